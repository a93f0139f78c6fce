import Foundation
import Networking
import Synchronization
import TrackerClient
import TrackerProtocol

/// Real `tracker-node` processes on 127.0.0.1 with free ports in a temporary folder: the one
/// launcher of every process-level suite and benchmark. Every process it starts is recorded
/// in `Children`; `stop()` kills them and removes the folder.
public final class TrackerCluster: Sendable {
    /// The folder holding cluster.conf, cluster.key, data directories and logs.
    public let directory: String
    /// Tracker ids, 1...size.
    public let ids: [TrackerID]
    /// Each tracker's port.
    public let ports: [TrackerID: UInt16]
    /// Arguments every tracker gets after `--conf --id --data-dir`.
    public let extraArguments: [String]
    /// The cluster key in hex, when the cluster has one.
    public let clusterKeyHex: String?
    /// The tracker-node executable.
    public let binary: String
    /// Each tracker's certificate fingerprint, as cluster.conf pins it (empty without TLS).
    public let fingerprints: [TrackerID: CertificateFingerprint]
    /// Whether the trackers (and clients of this cluster) run with `--insecure` (plaintext).
    public var isInsecure: Bool { extraArguments.contains("--insecure") }
    /// Start trackers through `setpriv --pdeathsig KILL`, so they die even when this process
    /// crashes (see `ChildProcess`; on by default).
    public let diesWithParent: Bool
    private let processes = Mutex<[TrackerID: ChildProcess]>([:])
    /// The certificate every `client(...)` of this cluster presents, like one user's machine:
    /// sessions are bound to the certificate they logged in with, and tests hand tokens from
    /// one client to another (nil: each client makes its own).
    public let clientIdentity = try? TLSIdentity.makeEphemeral(commonName: "test-client")

    /// The tracker-node built beside this test bundle or benchmark.
    public static var builtBinary: String { executablePath("tracker-node") }

    /// Writes cluster.conf (and cluster.key unless `clusterKey` is nil) in a new folder under
    /// `parent`; starts nothing. Unless the trackers run with `--insecure` (`isInsecure`, or in
    /// `extraArguments`) or `isPinned` is false, each tracker's identity is made in its data
    /// directory first and cluster.conf pins it, as scripts do with `--print-fingerprint`.
    /// `witness` names the tracker whose cluster.conf line ends in `witness`.
    public init(size: Int = 3, binary: String = TrackerCluster.builtBinary, extraArguments: [String] = [],
                clusterKey: String? = makeClusterKeyHex(), isInsecure: Bool = false, isPinned: Bool = true,
                witness: TrackerID? = nil,
                parent: String = NSTemporaryDirectory(), prefix: String = "tracker-cluster", diesWithParent: Bool = true) throws {
        directory = try makeTemporaryDirectory(prefix: prefix, parent: parent)
        ids = (1...UInt64(max(1, size))).map { $0 }
        var ports: [TrackerID: UInt16] = [:]
        for id in ids { ports[id] = try freePort() }
        self.ports = ports
        self.binary = binary
        let arguments = extraArguments + (isInsecure && !extraArguments.contains("--insecure") ? ["--insecure"] : [])
        self.extraArguments = arguments
        self.diesWithParent = diesWithParent
        clusterKeyHex = clusterKey
        var fingerprints: [TrackerID: CertificateFingerprint] = [:]
        if isPinned && !arguments.contains("--insecure") {
            for id in ids {
                fingerprints[id] = try TLSIdentity.loadOrCreate(directory: directory + "/data-\(id)", commonName: "tracker-\(id)").fingerprint
            }
        }
        self.fingerprints = fingerprints
        let conf = ids.map { id in "\(id) 127.0.0.1:\(ports[id]!)" + (fingerprints[id].map { " \($0)" } ?? "") + (id == witness ? " witness" : "") }
            .joined(separator: "\n") + "\n"
        try conf.write(toFile: directory + "/cluster.conf", atomically: true, encoding: .utf8)
        if let clusterKey { try writeClusterKey(clusterKey, besideConf: directory + "/cluster.conf") }
    }

    /// cluster.conf.
    public var confPath: String { directory + "/cluster.conf" }
    /// Tracker `id`'s data directory.
    public func dataDirectory(_ id: TrackerID) -> String { directory + "/data-\(id)" }
    /// Tracker `id`'s log (standard output and error, appended across restarts).
    public func logPath(_ id: TrackerID) -> String { directory + "/tracker-\(id).log" }
    /// Tracker `id`'s log so far.
    public func log(_ id: TrackerID) -> String { (try? String(contentsOfFile: logPath(id), encoding: .utf8)) ?? "" }
    /// The parsed cluster.conf.
    public func config() throws -> ClusterConfig { try ClusterConfig.load(path: confPath) }

    /// Starts every tracker.
    public func startAll() throws {
        for id in ids { try start(id) }
    }

    /// Starts tracker `id`; `wrapper` runs first and execs the binary (e.g. `prlimit
    /// --nofile=1024:1024 --`), so the process id is still the tracker's.
    public func start(_ id: TrackerID, wrapper: [String] = [], arguments more: [String] = []) throws {
        let arguments = ["--conf", confPath, "--id", "\(id)", "--data-dir", dataDirectory(id)] + extraArguments + more
        let child = try ChildProcess(binary, arguments, logPath: logPath(id), wrapper: wrapper, diesWithParent: diesWithParent)
        processes.withLock { $0[id] = child }
    }

    /// Tracker `id`'s process id, while it runs.
    public func pid(_ id: TrackerID) -> Int32? { processes.withLock { $0[id]?.pid } }

    /// SIGKILL: the process gets no chance to clean up. Reaped before it returns.
    public func kill(_ id: TrackerID) {
        processes.withLock { $0.removeValue(forKey: id) }?.kill()
    }

    /// SIGTERM, then wait for a clean exit (at most `timeoutMillis`, then SIGKILL and nil).
    public func terminate(_ id: TrackerID, timeoutMillis: Int = 5_000) -> Int32? {
        processes.withLock { $0.removeValue(forKey: id) }?.terminate(timeoutMillis: timeoutMillis)
    }

    /// Whether tracker `id` was started and still runs.
    public func isRunning(_ id: TrackerID) -> Bool { processes.withLock { $0[id]?.isRunning ?? false } }

    /// Kills every tracker and removes the folder (kept, and its path returned, with `keepDirectory`).
    @discardableResult
    public func stop(keepDirectory: Bool = false) -> String? {
        for id in processes.withLock({ $0.keys.sorted() }) { kill(id) }
        Children.shared.remove(directory: directory)
        if keepDirectory { return directory }
        try? FileManager.default.removeItem(atPath: directory)
        return nil
    }

    /// A client of this cluster that gives up on a call after `deadlineMillis`.
    public func client(deadlineMillis: Int = 15_000, attemptTimeoutMillis: Int = 1_000) throws -> TrackerClient {
        var timing = TrackerClient.Timing()
        timing.callDeadlineMillis = deadlineMillis
        timing.attemptTimeoutMillis = min(attemptTimeoutMillis, deadlineMillis)
        return try TrackerClient(cluster: try config(), timing: timing, identity: clientIdentity)
    }

    /// Statuses of the running trackers among `among` (all by default) that answer.
    public func statuses(using client: TrackerClient, among: [TrackerID]? = nil) throws -> [TrackerStatus] {
        let wanted = Set(among ?? ids)
        return try config().trackers.filter { wanted.contains($0.id) && isRunning($0.id) }.compactMap { try? client.status(of: $0).get() }
    }

    /// Waits until exactly one running tracker (of `among`) leads a term above `newerThan`
    /// and no answering tracker is in a higher term; its status, or nil after `timeoutMillis`.
    public func waitForLeader(using client: TrackerClient, among: [TrackerID]? = nil, newerThan term: UInt64 = 0,
                              timeoutMillis: Int = 10_000, pollMillis: Int = 20) throws -> TrackerStatus? {
        let deadline = Date().addingTimeInterval(Double(timeoutMillis) / 1000)
        while Date() < deadline {
            let statuses = try statuses(using: client, among: among)
            let leaders = statuses.filter { $0.role == .leader && $0.term > term }
            if leaders.count == 1, let leader = leaders.first, statuses.allSatisfy({ $0.term <= leader.term }) { return leader }
            usleep(UInt32(max(1, pollMillis)) * 1_000)
        }
        return nil
    }

    /// `waitForLeader` through a client of its own.
    public func waitForLeader(timeoutMillis: Int = 10_000) throws -> TrackerStatus? {
        let client = try client()
        defer { client.close() }
        return try waitForLeader(using: client, timeoutMillis: timeoutMillis)
    }
}

extension TrackerCluster {
    /// Deletes tracker `id`'s data directory (it must be stopped) but keeps its identity: the
    /// two TLS files cluster.conf pins are put back, as an operator restores them from a backup
    /// (README: rotation otherwise). Without TLS there are none and the folder just goes.
    public func wipeKeepingIdentity(_ id: TrackerID) throws {
        let data = dataDirectory(id)
        let names = [TLSIdentity.keyFileName, TLSIdentity.certificateFileName]
        let kept = names.compactMap { name in FileManager.default.contents(atPath: data + "/" + name).map { (name, $0) } }
        try FileManager.default.removeItem(atPath: data)
        guard !kept.isEmpty else { return }
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        for (name, bytes) in kept {
            _ = FileManager.default.createFile(atPath: data + "/" + name, contents: bytes, attributes: [.posixPermissions: 0o600])
        }
    }

    /// A TLS connection to tracker `id`, pinned to its fingerprint, presenting `identity` (a
    /// fresh one when nil).
    public func connectTLS(to id: TrackerID, identity: TLSIdentity? = nil) throws -> FramedConnection {
        let socket = try Socket.connect(host: "127.0.0.1", port: ports[id]!, timeoutMillis: 1_000)
        let context = try TLSContext(side: .client, identity: try identity ?? TLSIdentity.makeEphemeral(commonName: "test"))
        let pins: Set<CertificateFingerprint> = fingerprints[id].map { [$0] } ?? []
        do {
            return FramedConnection(tls: try TLSStream.handshake(socket: socket, context: context, verification: .pinned(pins),
                                                                 deadline: .now + .seconds(5)))
        } catch {
            socket.close()
            throw error
        }
    }
}
