import Foundation
import Networking
import TrackerHosting

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
    var isInsecure = false
    /// `--print-fingerprint`: make the identity if missing, print its fingerprint, exit.
    var printsFingerprint = false
    var passwordRequestsPerSecond = ConnectionLimits.passwordRequestsPerSecond
    /// Where `GET /metrics` is served (`--metrics-address`); nil: nowhere.
    var metricsAddress: PeerAddress?
    /// `--join`: a tracker not in cluster.conf, waiting to be added to the running cluster.
    var isJoining = false
    /// `--address`: where a joining tracker listens (the others' addresses come from cluster.conf).
    var ownAddress: PeerAddress?

    static let usage = """
        usage: tracker-node --conf <cluster.conf> --id <n> [--data-dir DIR] [--join --address HOST:PORT]
                            [--heartbeat-ms 50] [--election-ms 150] [--tick-ms 10] [--lease-ms 10000]
                            [--snapshot-entries 10000] [--segment-bytes 8388608]
                            [--snapshot-inline-bytes 4194304] [--password-rate 5] [--insecure]
                            [--metrics-address HOST:PORT]
               tracker-node --conf <cluster.conf> --id <n> [--data-dir DIR] --print-fingerprint

        Runs tracker <n> of the cluster described in cluster.conf: it listens on its address for
        both peer trackers and clients. The data directory (default data/tracker-<n>) holds the
        Raft log, hard state and snapshots: a snapshot is taken every --snapshot-entries applied
        entries, and the log segments it covers are deleted. A snapshot sent to a follower that is
        larger than --snapshot-inline-bytes travels in resumable 1 MiB chunks. Type `quit`, or send SIGINT/SIGTERM, to stop cleanly (a leader
        hands leadership over first). The election timeout is randomized in [E, 2E).
        Every connection is TLS 1.3. On first start the tracker makes a key pair and a self-signed
        certificate in its data directory (tls-key.pem, mode 0600; tls-cert.pem) and logs its
        fingerprint; --print-fingerprint makes them if missing, prints sha256:<hex> and exits.
        Every line of cluster.conf must pin its tracker's fingerprint ('2 10.1.0.12:7001
        sha256:<hex>'): trackers authenticate each other by mutual TLS against these pins, and
        clients check them before sending anything. A line without one is refused unless
        --insecure, which runs everything in plaintext (local experiments only: anyone who can
        reach the port can read passwords and pose as a tracker). The optional cluster.key beside
        cluster.conf (hex, at least 128 bits, mode 0600, the same on every tracker) is checked
        inside the connection too. --password-rate is how many create_user and login requests one source
        address may make per second (after a burst of 20); more are answered "retry later".
        --metrics-address serves Prometheus text (format 0.0.4) at GET /metrics on HOST:PORT:
        tracker_raft_role{role}, _term, _leader, _commit_index, _applied_index, _last_index,
        _leader_changes_total, _proposals_total, _committed_entries_total, _applied_entries_total;
        tracker_fsync_duration_seconds and tracker_apply_duration_seconds (histograms);
        tracker_follower_lag_entries{follower} (on the leader); tracker_pending_requests{kind},
        tracker_sessions_online, tracker_client_connections; tracker_snapshot_index, _bytes,
        tracker_snapshot_duration_seconds, tracker_snapshots_installed_total; refusals:
        tracker_connections_refused_total, tracker_handshakes_refused_total,
        tracker_raft_messages_refused_total, tracker_raft_messages_refused_by_core_total.
        Without it nothing else listens.

        cluster.conf is the seed list: where to find the cluster, and the configuration of a
        brand-new one (a line ending in `witness` makes that tracker a witness: it votes but
        keeps no log and no state, and redirects clients). The configuration in force lives in
        the log and snapshots and changes at runtime. --join starts a tracker that is not in
        cluster.conf, listening on --address; it waits until `member add` makes it a learner,
        and the leader promotes it once it has caught up. The data directory's identity (file
        `identity`, made on first start) tells the cluster which copy of a tracker it is: a
        tracker restarted with an empty data directory is refused as its old self; remove it
        and add it back (`member remove`, then `member add`) to make it a member again.

        \(AdminCommand.usage)
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
            case "--insecure": options.isInsecure = true
            case "--join": options.isJoining = true
            case "--address":
                guard let v = value(), let address = try? PeerAddress.parse(v) else { return .usageError("--address needs HOST:PORT") }
                options.ownAddress = address
            case "--print-fingerprint": options.printsFingerprint = true
            case "--password-rate":
                guard let text = value(), let rate = Double(text), rate > 0, rate.isFinite else {
                    return .usageError("--password-rate needs a positive number")
                }
                options.passwordRequestsPerSecond = rate
            case "--conf": guard let v = value() else { return .usageError("--conf needs a path") }; options.confPath = v
            case "--data-dir": guard let v = value() else { return .usageError("--data-dir needs a path") }; options.dataDirectory = v
            case "--metrics-address":
                guard let v = value(), let address = try? PeerAddress.parse(v) else { return .usageError("--metrics-address needs HOST:PORT") }
                options.metricsAddress = address
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
        guard options.isJoining == (options.ownAddress != nil) else { return .usageError("--join and --address go together") }
        guard options.heartbeatMillis >= options.tickMillis, options.electionMillis > options.heartbeatMillis else {
            return .usageError("need tick-ms <= heartbeat-ms < election-ms")
        }
        return .run(options)
    }
}
