import Foundation
import Networking
import ProcessHarness
import Testing
import TrackerClient
import TrackerProtocol
import TrackerStateMachine

/// Logs in a new user through `client`; returns the token.
func session(_ client: TrackerClient, user: String) throws -> [UInt8] {
    let created = try client.call(.createUser(userID: user, password: "secret-\(user)"))
    #expect(created == .result(.ok(.done)))
    let login = try client.call(.login(userID: user, password: "secret-\(user)", peerAddress: "127.0.0.1:1"))
    guard case let .loggedIn(token, _) = login else { throw TrackerClientError.unavailable("login: \(login)") }
    return token
}

func createGroup(_ client: TrackerClient, _ token: [UInt8], _ group: String) throws -> ClientResponse {
    try client.call(.command(.createGroup(groupID: group)), token: token)
}

func groupIDs(_ client: TrackerClient, _ token: [UInt8]) throws -> [String] {
    let listing = try? Page<GroupSummary>.collect(upTo: Limits.standard.groupsMax) { page in
        guard case let .result(.ok(.groups(groups))) = try client.call(.query(.listGroups(page: page)), token: token) else {
            throw PagingError(cursor: page.after ?? "")
        }
        return groups
    }
    return listing?.items.map(\.groupID) ?? []
}

@Suite("tracker-node processes", .serialized)
struct TrackerNodeTests {
    @Test("three trackers elect exactly one leader, and a follower redirects a client to it")
    func electAndRedirect() throws {
        let cluster = try TrackerCluster()
        defer { cluster.stop() }
        try cluster.startAll()
        let client = try cluster.client()
        let leader = try #require(try cluster.waitForLeader(using: client)?.id)
        let follower = cluster.ids.first { $0 != leader }!
        // One request straight to a follower: it answers with the leader's address.
        let followerEntry = try #require(try cluster.config().trackers.first { $0.id == follower })
        let answer = try client.askOnce(.createUser(userID: "viaFollower", password: "pw"), tracker: followerEntry)
        #expect(answer == .redirect(leader: leader, address: "127.0.0.1:\(cluster.ports[leader]!)"))
        // The full client follows the redirect and the write succeeds.
        #expect(try client.call(.createUser(userID: "viaFollower", password: "pw")) == .result(.ok(.done)))
    }

    @Test("kill -9 of the leader during writes: a new leader within a second, no acknowledged write lost, none applied twice; the killed tracker catches up")
    func leaderKilledDuringWrites() throws {
        let cluster = try TrackerCluster()
        defer { cluster.stop() }
        try cluster.startAll()
        let client = try cluster.client()
        let oldLeader = try #require(try cluster.waitForLeader(using: client)?.id)
        let token = try session(client, user: "writer")
        var acknowledged: [String] = []
        for i in 0..<30 {
            #expect(try createGroup(client, token, "before\(i)") == .result(.ok(.done)))
            acknowledged.append("before\(i)")
        }
        cluster.kill(oldLeader)
        let killedAt = Date()
        let newLeader = try #require(try cluster.waitForLeader(using: client, timeoutMillis: 5_000)?.id)
        let electionSeconds = Date().timeIntervalSince(killedAt)
        #expect(newLeader != oldLeader)
        #expect(electionSeconds < 1.0, "new leader after \(electionSeconds) s")
        for i in 0..<30 {
            let answer = try createGroup(client, token, "after\(i)")
            #expect(answer == .result(.ok(.done)), "a second apply would answer 'group already exists'")
            acknowledged.append("after\(i)")
        }
        let listed = try groupIDs(client, token)
        #expect(Set(listed) == Set(acknowledged))
        #expect(listed.count == acknowledged.count)
        // The killed tracker restarts from its disk and catches up.
        try cluster.start(oldLeader)
        let deadline = Date().addingTimeInterval(10)
        var caughtUp = false
        while Date() < deadline && !caughtUp {
            let statuses = try cluster.statuses(using: client)
            let leaderCommit = statuses.first { $0.role == .leader }?.commitIndex ?? 0
            caughtUp = statuses.contains { $0.id == oldLeader && $0.appliedIndex >= leaderCommit && leaderCommit > 0 }
            usleep(50_000)
        }
        #expect(caughtUp)
    }

    @Test("all three trackers killed and restarted: every acknowledged write persists")
    func restartAll() throws {
        let cluster = try TrackerCluster()
        defer { cluster.stop() }
        try cluster.startAll()
        let client = try cluster.client()
        _ = try #require(try cluster.waitForLeader(using: client)?.id)
        let token = try session(client, user: "persist")
        for i in 0..<20 { #expect(try createGroup(client, token, "g\(i)") == .result(.ok(.done))) }
        for id in cluster.ids { cluster.kill(id) }
        try cluster.startAll()
        _ = try #require(try cluster.waitForLeader(using: client)?.id)
        // Sessions are replicated state too: the token still works after the restart.
        #expect(Set(try groupIDs(client, token)) == Set((0..<20).map { "g\($0)" }))
    }

    // A follower whose data directory was deleted is refused under its old identity and
    // catches up once re-added: MembershipProcessTests.wipedTrackerRefusedThenReadded.

    @Test("garbage bytes and a 4 GiB length prefix are refused while the cluster keeps serving")
    func garbageRefused() throws {
        let cluster = try TrackerCluster()
        defer { cluster.stop() }
        try cluster.startAll()
        let client = try cluster.client()
        let leader = try #require(try cluster.waitForLeader(using: client)?.id)
        let port = cluster.ports[leader]!
        for junk: [UInt8] in [Array("GET / HTTP/1.1\r\n\r\n".utf8), [0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00], [0, 0, 0, 3]] {
            let socket = try Socket.connect(host: "127.0.0.1", port: port, timeoutMillis: 1_000)
            try socket.setReceiveTimeout(millis: 2_000)
            try socket.send(all: junk)
            var buffer = [UInt8](repeating: 0, count: 256)
            // The tracker closes the connection (EOF) or answers with a rejection, then closes.
            var closed = false
            for _ in 0..<8 where !closed {
                closed = ((try? socket.receive(into: &buffer)) ?? 0) == 0
            }
            #expect(closed)
            socket.close()
        }
        // After a valid TLS handshake and client hello, a frame announcing 4 GiB is refused too.
        let connection = try cluster.connectTLS(to: leader)
        _ = try Handshake.perform(on: connection, as: .dialer, role: .client, id: 77, key: nil,
                                  auth: HandshakeAuthenticator(mac: { _, _ in [] }, randomBytes: { [UInt8](repeating: 7, count: $0) }))
        try connection.stream.send(all: [0xFF, 0xFF, 0xFF, 0xFF, ServiceFrame.request])
        try connection.socket.setReceiveTimeout(millis: 2_000)
        #expect(throws: (any Error).self) { _ = try connection.readFrame() }
        connection.close()
        #expect(cluster.isRunning(leader))
        #expect(try client.call(.createUser(userID: "stillServing", password: "pw")) == .result(.ok(.done)))
        #expect(cluster.log(leader).contains("rejected frame"))
    }

    @Test("SIGTERM on the leader hands leadership over first: the next leader is in the next term, with no election timeout")
    func gracefulShutdown() throws {
        let cluster = try TrackerCluster()
        defer { cluster.stop() }
        try cluster.startAll()
        let client = try cluster.client()
        let leader = try #require(try cluster.waitForLeader(using: client)?.id)
        let term = try #require(try cluster.statuses(using: client).first { $0.id == leader }).term
        let start = Date()
        let status = cluster.terminate(leader)
        #expect(status == 0)
        let next = try #require(try cluster.waitForLeader(using: client, timeoutMillis: 3_000)?.id)
        #expect(Date().timeIntervalSince(start) < 1.0)
        let nextTerm = try #require(try cluster.statuses(using: client).first { $0.id == next }).term
        #expect(nextTerm == term + 1, "a transfer takes one term; an election after a timeout usually more")
        #expect(cluster.log(leader).contains("transferring leadership"))
    }
}

@Suite("tracker-node command line", .serialized)
struct TrackerNodeCommandLineTests {
    func run(_ arguments: [String], in directory: String? = nil) throws -> (status: Int32, output: String) {
        let result = try runToExit(TrackerCluster.builtBinary, arguments, mergingOutput: true, in: directory)
        return (result.status, result.stdout)
    }

    @Test("--help exits 0 with usage; an unknown flag exits 2 with usage")
    func helpAndUnknownFlag() throws {
        let help = try run(["--help"])
        #expect(help.status == 0 && help.output.contains("usage: tracker-node"))
        let bad = try run(["--bogus"])
        #expect(bad.status == 2 && bad.output.contains("unknown argument --bogus") && bad.output.contains("usage:"))
    }

    @Test("a malformed cluster.conf, an unknown id and a port in use stop it with a message saying what and where")
    func startupErrors() throws {
        let cluster = try TrackerCluster(size: 1)
        defer { cluster.stop() }
        let badConf = cluster.directory + "/bad.conf"
        try "1 127.0.0.1:7001\n2 127.0.0.1:notaport\n".write(toFile: badConf, atomically: true, encoding: .utf8)
        let malformed = try run(["--conf", badConf, "--id", "1"])
        #expect(malformed.status == 1 && malformed.output.contains("bad.conf:2"))
        let unknown = try run(["--conf", cluster.confPath, "--id", "9"])
        #expect(unknown.status == 1 && unknown.output.contains("no tracker with id 9"))
        let blocker = try Socket.listen(host: "127.0.0.1", port: cluster.ports[1]!)
        defer { blocker.close() }
        let inUse = try run(["--conf", cluster.confPath, "--id", "1", "--data-dir", cluster.dataDirectory(1)])
        #expect(inUse.status == 1 && inUse.output.contains("in use"))
    }
}

@Suite("tracker-node session leases", .serialized)
struct SessionLeaseProcessTests {
    @Test("a client that stops sending keepalives (as after kill -9) stops being offered as a peer within its lease")
    func deadClientLeavesPeerList() throws {
        let leaseMillis = 1_500
        let cluster = try TrackerCluster(extraArguments: ["--lease-ms", "\(leaseMillis)"])
        defer { cluster.stop() }
        try cluster.startAll()
        let client = try cluster.client()
        _ = try #require(try cluster.waitForLeader(using: client)?.id)
        let sharer = try session(client, user: "sharer")
        #expect(try createGroup(client, sharer, "g") == .result(.ok(.done)))
        let pieceHash = [UInt8](repeating: 7, count: 20)
        let metadata = FileMetadata(name: "f", sizeBytes: 10, pieceSizeBytes: 524_288, pieceHashes: pieceHash, fileHash: pieceHash)
        #expect(try client.call(.command(.uploadFile(groupID: "g", metadata: metadata)), token: sharer) == .result(.ok(.done)))
        let other = try cluster.client()
        let reader = try session(other, user: "reader")
        _ = try other.call(.command(.joinGroup(groupID: "g")), token: reader)
        _ = try client.call(.command(.acceptRequest(groupID: "g", userID: "reader")), token: sharer)
        func peers() throws -> [String] {
            // The reader stays alive with keepalives; the sharer has gone silent.
            _ = try other.call(.command(.keepAlive), token: reader)
            guard case let .result(.ok(.download(info))) = try other.call(.query(.downloadInfo(groupID: "g", fileName: "f")), token: reader) else { return ["?"] }
            return info.peers.map(\.userID)
        }
        #expect(try peers() == ["sharer"])
        let silentSince = Date()
        var gone = false
        while Date().timeIntervalSince(silentSince) < 10, !gone {
            usleep(200_000)
            gone = try peers().isEmpty
        }
        let seconds = Date().timeIntervalSince(silentSince)
        #expect(gone)
        // Lease, plus the leader's once-a-second expiry check, plus a commit.
        #expect(seconds < Double(leaseMillis) / 1000 + 2.5, "expired after \(seconds) s")
        #expect(try client.call(.query(.listGroups()), token: sharer) == .result(.failure(.notLoggedIn)))
    }
}
