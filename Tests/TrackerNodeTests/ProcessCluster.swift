import Consensus
import Foundation
import Networking
import Synchronization
import TrackerClient
import TrackerProtocol

/// Real `tracker-node` processes on 127.0.0.1 with free ports and a temporary folder, for
/// process-level tests. Every process it starts is killed, and the folder removed, in `stop()`.
final class ProcessCluster: @unchecked Sendable {
    // @unchecked: used by one test at a time; the only shared state is behind `processes`.
    let directory: String
    let ids: [NodeID]
    let ports: [NodeID: UInt16]
    private let processes = Mutex<[NodeID: Process]>([:])
    let extraArguments: [String]
    /// The cluster key in hex, when the cluster has one.
    let clusterKeyHex: String?

    /// The tracker-node binary beside the test bundle (swift test builds every product).
    static var binary: String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var candidate = bundle
        for _ in 0..<4 {
            let path = candidate.appendingPathComponent("tracker-node").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
            candidate = candidate.deletingLastPathComponent()
        }
        return bundle.appendingPathComponent("tracker-node").path
    }

    /// A fresh random cluster key: 64 hex digits.
    static func makeKeyHex() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Writes `hex` as the cluster key beside `confPath`, mode 0600.
    static func writeKey(_ hex: String, beside confPath: String, mode: Int = 0o600) throws {
        let path = (confPath as NSString).deletingLastPathComponent + "/cluster.key"
        try? FileManager.default.removeItem(atPath: path)
        guard FileManager.default.createFile(atPath: path, contents: Data((hex + "\n").utf8), attributes: [.posixPermissions: mode]) else {
            throw CocoaError(.fileWriteUnknown)
        }
    }

    /// The fingerprint of each tracker's certificate, as cluster.conf pins it (empty when the
    /// cluster runs without TLS).
    let fingerprints: [NodeID: CertificateFingerprint]

    /// `clusterKey` nil makes no key file. Unless `extraArguments` has `--insecure` (or
    /// `isPinned` is false), each tracker's identity is made in its data directory first and
    /// cluster.conf pins it, as scripts do with `--print-fingerprint`. `witness` names the
    /// tracker whose cluster.conf line ends in `witness`.
    init(size: Int = 3, extraArguments: [String] = [], clusterKey: String? = ProcessCluster.makeKeyHex(), isPinned: Bool = true,
         witness: NodeID? = nil) throws {
        signal(SIGPIPE, SIG_IGN) // a socket or pipe to a killed tracker must fail, not kill the test run
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tracker-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        ids = (1...UInt64(size)).map { $0 }
        var ports: [NodeID: UInt16] = [:]
        for id in ids { ports[id] = try Self.freePort() }
        self.ports = ports
        self.extraArguments = extraArguments
        clusterKeyHex = clusterKey
        var fingerprints: [NodeID: CertificateFingerprint] = [:]
        if isPinned && !extraArguments.contains("--insecure") {
            for id in ids {
                fingerprints[id] = try TLSIdentity.loadOrCreate(directory: directory + "/data-\(id)", commonName: "tracker-\(id)").fingerprint
            }
        }
        self.fingerprints = fingerprints
        let conf = ids.map { id in "\(id) 127.0.0.1:\(ports[id]!)" + (fingerprints[id].map { " \($0)" } ?? "") + (id == witness ? " witness" : "") }
            .joined(separator: "\n") + "\n"
        try conf.write(toFile: confPath, atomically: true, encoding: .utf8)
        if let clusterKey { try Self.writeKey(clusterKey, beside: confPath) }
    }

    var confPath: String { directory + "/cluster.conf" }
    func dataDirectory(_ id: NodeID) -> String { directory + "/data-\(id)" }
    func logPath(_ id: NodeID) -> String { directory + "/tracker-\(id).log" }

    static func freePort() throws -> UInt16 {
        let socket = try Socket.listen(host: "127.0.0.1", port: 0)
        defer { socket.close() }
        return try socket.localPort
    }

    func startAll() throws {
        for id in ids { try start(id) }
    }

    /// Starts tracker `id`; `wrapper` runs first and execs the binary (e.g. `prlimit
    /// --nofile=1024:1024 --`), so the process id is still the tracker's.
    func start(_ id: NodeID, wrapper: [String] = [], arguments more: [String] = []) throws {
        let process = Process()
        let arguments = ["--conf", confPath, "--id", "\(id)", "--data-dir", dataDirectory(id)] + extraArguments + more
        if let tool = wrapper.first {
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = Array(wrapper.dropFirst()) + [Self.binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: Self.binary)
            process.arguments = arguments
        }
        _ = FileManager.default.createFile(atPath: logPath(id), contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath(id)))
        log.seekToEndOfFile()
        process.standardError = log
        process.standardOutput = log
        process.standardInput = Pipe()
        try process.run()
        processes.withLock { $0[id] = process }
    }

    /// SIGKILL: the process gets no chance to clean up.
    func kill(_ id: NodeID) {
        guard let process = processes.withLock({ $0.removeValue(forKey: id) }) else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM, then wait for a clean exit (at most `timeoutMillis`, then SIGKILL).
    func terminate(_ id: NodeID, timeoutMillis: Int = 5_000) -> Int32? {
        guard let process = processes.withLock({ $0.removeValue(forKey: id) }) else { return nil }
        process.terminate()
        let deadline = Date().addingTimeInterval(Double(timeoutMillis) / 1000)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    func isRunning(_ id: NodeID) -> Bool { processes.withLock { $0[id]?.isRunning ?? false } }

    func stop() {
        for id in processes.withLock({ $0.keys.sorted() }) { kill(id) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    func config() throws -> ClusterConfig { try ClusterConfig.load(path: confPath) }

    /// Deletes tracker `id`'s data directory (it must be stopped) but keeps its identity: the
    /// two TLS files cluster.conf pins are put back, as an operator restores them from a backup
    /// (README: rotation otherwise). Without TLS there are none and the folder just goes.
    func wipeKeepingIdentity(_ id: NodeID) throws {
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
    func connectTLS(to id: NodeID, identity: TLSIdentity? = nil) throws -> FramedConnection {
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

    func client(deadlineMillis: Int = 15_000) throws -> TrackerClient {
        var timing = TrackerClient.Timing()
        timing.callDeadlineMillis = deadlineMillis
        timing.attemptTimeoutMillis = 1_000
        return try TrackerClient(cluster: try config(), timing: timing)
    }

    /// Statuses of the running trackers that answer.
    func statuses(using client: TrackerClient) throws -> [TrackerStatus] {
        try config().trackers.filter { isRunning($0.id) }.compactMap { try? client.status(of: $0).get() }
    }

    /// Waits until exactly one running tracker is leader of the highest term; returns it.
    func waitForLeader(using client: TrackerClient, timeoutMillis: Int = 10_000) throws -> NodeID? {
        let deadline = Date().addingTimeInterval(Double(timeoutMillis) / 1000)
        while Date() < deadline {
            let statuses = try statuses(using: client)
            let leaders = statuses.filter { $0.role == .leader }
            if leaders.count == 1, let leader = leaders.first, statuses.allSatisfy({ $0.term <= leader.term }) {
                return leader.id
            }
            usleep(20_000)
        }
        return nil
    }

    func log(_ id: NodeID) -> String { (try? String(contentsOfFile: logPath(id), encoding: .utf8)) ?? "" }
}
