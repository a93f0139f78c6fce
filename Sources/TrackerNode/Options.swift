import Foundation
import TrackerService

/// tracker-node's command line.
struct Options {
    var confPath = ""
    var id: UInt64 = 0
    var dataDirectory: String?
    var tickMillis: UInt64 = 10
    var heartbeatMillis: UInt64 = 50
    var electionMillis: UInt64 = 150
    var sessionLeaseMillis: UInt64 = 10_000
    var snapshotEntries: UInt64 = 10_000
    var segmentBytes = 8 << 20
    var snapshotInlineBytes = SnapshotTransfer.inlineBytesMax

    static let usage = """
        usage: tracker-node --conf <cluster.conf> --id <n> [--data-dir DIR]
                            [--heartbeat-ms 50] [--election-ms 150] [--tick-ms 10] [--lease-ms 10000]
                            [--snapshot-entries 10000] [--segment-bytes 8388608]
                            [--snapshot-inline-bytes 4194304]

        Runs tracker <n> of the cluster described in cluster.conf: it listens on its address for
        both peer trackers and clients. The data directory (default data/tracker-<n>) holds the
        Raft log, hard state and snapshots: a snapshot is taken every --snapshot-entries applied
        entries, and the log segments it covers are deleted. A snapshot sent to a follower that is
        larger than --snapshot-inline-bytes travels in resumable 1 MiB chunks. Type `quit`, or send SIGINT/SIGTERM, to stop cleanly (a leader
        hands leadership over first). The election timeout is randomized in [E, 2E).
        If the file cluster.key exists beside cluster.conf, trackers prove to each other that
        they know it before exchanging Raft messages (make one: openssl rand -hex 32 > cluster.key).
        """

    enum ParseOutcome {
        case run(Options)
        case help
        case usageError(String)
    }

    static func parse(_ arguments: [String]) -> ParseOutcome {
        var options = Options()
        var i = 0
        func value() -> String? {
            i += 1
            return i < arguments.count ? arguments[i] : nil
        }
        while i < arguments.count {
            let flag = arguments[i]
            switch flag {
            case "--help", "-h": return .help
            case "--conf": guard let v = value() else { return .usageError("--conf needs a path") }; options.confPath = v
            case "--data-dir": guard let v = value() else { return .usageError("--data-dir needs a path") }; options.dataDirectory = v
            case "--id", "--tick-ms", "--heartbeat-ms", "--election-ms", "--lease-ms", "--snapshot-entries", "--segment-bytes", "--snapshot-inline-bytes":
                guard let text = value(), let number = UInt64(text), number > 0 else { return .usageError("\(flag) needs a positive number") }
                switch flag {
                case "--id": options.id = number
                case "--tick-ms": options.tickMillis = number
                case "--heartbeat-ms": options.heartbeatMillis = number
                case "--election-ms": options.electionMillis = number
                case "--snapshot-entries": options.snapshotEntries = number
                case "--segment-bytes": options.segmentBytes = Int(min(number, 1 << 30))
                case "--snapshot-inline-bytes": options.snapshotInlineBytes = Int(min(number, 32 << 20))
                default: options.sessionLeaseMillis = number
                }
            default:
                return .usageError("unknown argument \(flag)")
            }
            i += 1
        }
        guard !options.confPath.isEmpty else { return .usageError("--conf is required") }
        guard options.id > 0 else { return .usageError("--id is required") }
        guard options.heartbeatMillis >= options.tickMillis, options.electionMillis > options.heartbeatMillis else {
            return .usageError("need tick-ms <= heartbeat-ms < election-ms")
        }
        return .run(options)
    }
}
