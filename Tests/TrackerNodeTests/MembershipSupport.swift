import ProcessHarness
import Consensus
import Foundation
import Networking
import Synchronization
import Testing
import TrackerClient

/// Membership helpers for process tests: trackers outside cluster.conf, the `member` tool, and
/// a background stream of writes.
extension TrackerCluster {
    /// Runs `tracker-node member <words> --conf <cluster.conf>`; exit status and output. Over
    /// TLS an `add` or `replace` without `--fingerprint` gets the new tracker's (its identity
    /// made in its data directory first, as `--print-fingerprint` does), and the tool presents
    /// the identity of tracker `asTracker` (the first of cluster.conf when nil).
    func member(_ words: [String], timeoutMillis: Int = 10_000, asTracker: NodeID? = nil) throws -> (status: Int32, output: String) {
        var words = words
        if !fingerprints.isEmpty, ["add", "replace"].contains(words.first ?? ""), !words.contains("--fingerprint"),
           let flag = words.firstIndex(of: words.first == "add" ? "--id" : "--new-id"), flag + 1 < words.count, let id = NodeID(words[flag + 1]) {
            words += ["--fingerprint", try pin(of: id).description]
        }
        if !fingerprints.isEmpty, !words.contains("--data-dir") { words += ["--data-dir", dataDirectory(asTracker ?? ids[0])] }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["member"] + words + ["--conf", confPath, "--timeout-ms", "\(timeoutMillis)"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = Pipe()
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// The configuration `member list` prints: id → role.
    func members() throws -> [NodeID: String] {
        let (status, output) = try member(["list"])
        guard status == 0 else { return [:] }
        var roles: [NodeID: String] = [:]
        for line in output.split(separator: "\n") {
            let words = line.split(separator: " ")
            if words.count == 3, let id = NodeID(words[0]) { roles[id] = String(words[2]) }
        }
        return roles
    }

    /// Waits until `member list` satisfies `condition`.
    func waitForMembers(timeoutMillis: Int = 15_000, _ condition: ([NodeID: String]) -> Bool) throws -> Bool {
        let deadline = Date().addingTimeInterval(Double(timeoutMillis) / 1_000)
        while Date() < deadline {
            if condition(try members()) { return true }
            usleep(100_000)
        }
        return false
    }

    /// Starts tracker `id`, not in cluster.conf, with `--join` on `port`.
    func startJoining(_ id: NodeID, port: UInt16) throws {
        try start(id, arguments: ["--join", "--address", "127.0.0.1:\(port)"])
    }

    /// A client whose seed list also names `extra` trackers (id → port).
    func client(extra: [NodeID: UInt16], deadlineMillis: Int = 15_000) throws -> TrackerClient {
        var timing = TrackerClient.Timing()
        timing.callDeadlineMillis = deadlineMillis
        timing.attemptTimeoutMillis = 1_000
        return try TrackerClient(cluster: try config(extra: extra), timing: timing, identity: clientIdentity)
    }

    /// The certificate fingerprint of tracker `id` (made in its data directory if it has none
    /// yet: a joining tracker's, before it starts).
    func pin(of id: NodeID) throws -> CertificateFingerprint {
        if let known = fingerprints[id] { return known }
        return try TLSIdentity.loadOrCreate(directory: dataDirectory(id), commonName: "tracker-\(id)").fingerprint
    }

    /// cluster.conf plus `extra` trackers (id → port), each pinned over TLS.
    func config(extra: [NodeID: UInt16]) throws -> ClusterConfig {
        let pinText = { (id: NodeID) throws -> String in self.fingerprints.isEmpty ? "" : " \(try self.pin(of: id))" }
        let lines = try ports.keys.sorted().map { "\($0) 127.0.0.1:\(ports[$0]!)" + (try pinText($0)) }
            + extra.keys.sorted().map { "\($0) 127.0.0.1:\(extra[$0]!)" + (try pinText($0)) }
        return try ClusterConfig.parse(text: lines.joined(separator: "\n"), fileName: "test")
    }

    /// Waits until one tracker of cluster.conf or `extra` (id → port) leads the highest term.
    func waitForLeader(extra: [NodeID: UInt16], client: TrackerClient, timeoutMillis: Int = 10_000) throws -> NodeID? {
        let trackers = try config(extra: extra).trackers
        let deadline = Date().addingTimeInterval(Double(timeoutMillis) / 1_000)
        while Date() < deadline {
            let statuses = trackers.compactMap { try? client.status(of: $0).get() }
            if let leader = statuses.first(where: { $0.role == .leader }), statuses.allSatisfy({ $0.term <= leader.term }) { return leader.id }
            usleep(20_000)
        }
        return nil
    }

    /// Waits until tracker `id` (at `port`) has applied what the leader had committed when asked.
    func waitCaughtUp(_ id: NodeID, port: UInt16, client: TrackerClient, timeoutMillis: Int = 15_000) -> Bool {
        let tracker = ClusterConfig.Tracker(id: id, address: PeerAddress(host: "127.0.0.1", port: port))
        let deadline = Date().addingTimeInterval(Double(timeoutMillis) / 1_000)
        while Date() < deadline {
            let commit = ((try? statuses(using: client)) ?? []).first { $0.role == .leader }?.commitIndex ?? 0
            if commit > 0, let s = try? client.status(of: tracker).get(), s.appliedIndex >= commit { return true }
            usleep(50_000)
        }
        return false
    }
}

/// Writes `create_group w<n>` one after another from a thread of its own until stopped,
/// recording every acknowledged write and when it was acknowledged.
final class WriteStream: Sendable {
    struct Acknowledged: Sendable {
        var group: String
        var at: Date
    }

    private let state = Mutex<(acknowledged: [Acknowledged], isStopped: Bool, failures: Int)>(([], false, 0))
    private let finished = Mutex<Bool>(false)
    let prefix: String

    /// Groups one user creates before the stream logs in as the next (under the state
    /// machine's per-user quota).
    static let groupsPerUser = 900
    /// The users the stream wrote as, for reading back what it wrote.
    private let users = Mutex<[[UInt8]]>([])

    /// Starts writing through `client`, as fresh users `<prefix>-user<k>`.
    init(client: TrackerClient, prefix: String = "w") {
        self.prefix = prefix
        let thread = Thread { [self] in
            var n = 0
            var token: [UInt8] = []
            while !state.withLock({ $0.isStopped }) {
                if n % Self.groupsPerUser == 0 || token.isEmpty {
                    guard let next = Self.login(client, user: "\(prefix)-user\(n / Self.groupsPerUser)") else { usleep(50_000); continue }
                    token = next
                    users.withLock { $0.append(next) }
                }
                let group = "\(prefix)\(n)"
                n += 1
                let answer = try? client.call(.command(.createGroup(groupID: group)), token: token)
                state.withLock {
                    if answer == .result(.ok(.done)) { $0.acknowledged.append(Acknowledged(group: group, at: Date())) } else { $0.failures += 1 }
                }
            }
            finished.withLock { $0 = true }
        }
        thread.start()
    }

    /// Creates `user` (an existing one is fine) and logs in.
    static func login(_ client: TrackerClient, user: String) -> [UInt8]? {
        _ = try? client.call(.createUser(userID: user, password: "pw-\(user)"))
        guard case let .loggedIn(token, _)? = try? client.call(.login(userID: user, password: "pw-\(user)", peerAddress: "127.0.0.1:1")) else { return nil }
        return token
    }

    var acknowledged: [Acknowledged] { state.withLock { $0.acknowledged } }
    /// The tokens of the users the stream wrote as.
    var tokens: [[UInt8]] { users.withLock { $0 } }
    var count: Int { state.withLock { $0.acknowledged.count } }

    /// Waits until `more` further writes are acknowledged (false after `timeoutMillis`).
    func waitFor(more: Int, timeoutMillis: Int = 10_000) -> Bool {
        let target = count + more
        let deadline = Date().addingTimeInterval(Double(timeoutMillis) / 1_000)
        while Date() < deadline {
            if count >= target { return true }
            usleep(10_000)
        }
        return false
    }

    /// Stops and waits for the write in flight to end.
    func stop() {
        state.withLock { $0.isStopped = true }
        while !finished.withLock({ $0 }) { usleep(10_000) }
    }
}

/// Every group the streams acknowledged is listed (by some user of theirs: each sees every
/// group), and no group is listed twice.
func expectAllAcknowledged(_ streams: [WriteStream], client: TrackerClient, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let token = try #require(streams.first?.tokens.first, sourceLocation: sourceLocation)
    let listed = try groupIDs(client, token)
    let acknowledged = streams.flatMap { $0.acknowledged.map(\.group) }
    let missing = Set(acknowledged).subtracting(listed)
    #expect(missing.isEmpty, "acknowledged but lost: \(missing.sorted().prefix(10))", sourceLocation: sourceLocation)
    #expect(Set(listed).count == listed.count, sourceLocation: sourceLocation)
    #expect(!acknowledged.isEmpty, sourceLocation: sourceLocation)
}
