import CommandLineFlags
import Logging
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
    /// The shape of log lines on standard error (`--log-format text|json`).
    var logFormat = LogFormat.text
    /// `--join`: a tracker not in cluster.conf, waiting to be added to the running cluster.
    var isJoining = false
    /// `--address`: where a joining tracker listens (the others' addresses come from cluster.conf).
    var ownAddress: PeerAddress?

    static let usage = """
        usage: tracker-node --conf <cluster.conf> --id <n> [--data-dir DIR] [--join --address HOST:PORT]
                            [--heartbeat-ms 50] [--election-ms 150] [--tick-ms 10] [--lease-ms 10000]
                            [--snapshot-entries 10000] [--segment-bytes 8388608]
                            [--snapshot-inline-bytes 4194304] [--password-rate 5] [--insecure]
                            [--metrics-address HOST:PORT] [--log-format text|json]
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
        Without it nothing else listens. --log-format json writes each log line as one JSON object
        (time, level, message, then the fields, every value a string).

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

    /// The command line read into options, or help, or what is wrong with it.
    static func parse(_ arguments: [String]) -> FlagOutcome<Options> {
        parser.parse(arguments, into: Options())
    }

    private static var parser: FlagParser<Options> {
        var parser = FlagParser<Options>()
        parser.toggle("--insecure") { $0.isInsecure = true }
        parser.toggle("--print-fingerprint") { $0.printsFingerprint = true }
        parser.value("--password-rate", need: "needs a positive number") { o, v in
            guard let rate = FlagValue.positiveReal(v) else { return false }
            o.passwordRequestsPerSecond = rate
            return true
        }
        parser.toggle("--join") { $0.isJoining = true }
        parser.value("--address", need: "needs HOST:PORT") { o, v in
            guard let address = try? PeerAddress.parse(v) else { return false }
            o.ownAddress = address
            return true
        }
        parser.value("--conf", need: "needs a path") { o, v in o.confPath = v; return true }
        parser.value("--data-dir", need: "needs a path") { o, v in o.dataDirectory = v; return true }
        parser.value("--metrics-address", need: "needs HOST:PORT") { o, v in
            guard let address = try? PeerAddress.parse(v) else { return false }
            o.metricsAddress = address
            return true
        }
        parser.value("--log-format", need: "needs text or json") { o, v in
            guard let format = LogFormat(rawValue: v) else { return false }
            o.logFormat = format
            return true
        }
        let numbers: [(String, (inout Options, UInt64) -> Void)] = [
            ("--id", { $0.id = $1 }), ("--tick-ms", { $0.tickMillis = $1 }), ("--heartbeat-ms", { $0.heartbeatMillis = $1 }),
            ("--election-ms", { $0.electionMillis = $1 }), ("--lease-ms", { $0.sessionLeaseMillis = $1 }),
            ("--snapshot-entries", { $0.snapshotEntries = $1 }), ("--segment-bytes", { $0.segmentBytes = Int(min($1, 1 << 30)) }),
            ("--snapshot-inline-bytes", { $0.snapshotInlineBytes = Int(min($1, 32 << 20)) }),
        ]
        for (name, set) in numbers {
            parser.value(name, need: "needs a positive number") { o, v in
                guard let number = FlagValue.positive(v) else { return false }
                set(&o, number)
                return true
            }
        }
        parser.validate = { options in
            guard !options.confPath.isEmpty else { return "--conf is required" }
            guard options.id > 0 else { return "--id is required" }
            guard options.isJoining == (options.ownAddress != nil) else { return "--join and --address go together" }
            guard options.heartbeatMillis >= options.tickMillis, options.electionMillis > options.heartbeatMillis else {
                return "need tick-ms <= heartbeat-ms < election-ms"
            }
            return nil
        }
        return parser
    }
}
