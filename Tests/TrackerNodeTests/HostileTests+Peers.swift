import Consensus
import Foundation
import Hashing
import Networking
import Testing
import TrackerProtocol

/// The real handshake authenticator (HMAC-SHA256), for a test that holds the cluster key.
let keyHolderAuth = HandshakeAuthenticator(
    mac: { key, message in HMACSHA256.authenticate(key: key, message: message) },
    randomBytes: { count in (0..<count).map { _ in UInt8.random(in: 0...255) } })

/// The bytes of a hex key.
func keyBytes(_ hex: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex, let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex), let byte = UInt8(hex[index..<next], radix: 16) {
        bytes.append(byte)
        index = next
    }
    return bytes
}

extension HostileTests {
    @Test("a peer holding the cluster key sends terms, indexes and commits that would overflow: every one is refused and logged, nothing changes")
    func overflowingNumbersFromKeyHolder() throws {
        let cluster = try ProcessCluster(extraArguments: ["--insecure"]) // raw frames: the layer TLS carries, in plaintext to reach it; the launcher made a cluster key
        defer { cluster.stop() }
        try cluster.startAll()
        let client = try cluster.client()
        let leader = try #require(try cluster.waitForLeader(using: client))
        let acknowledged = try cluster.acknowledgedGroups(3, prefix: "overflow")
        let before = try #require(try cluster.status(of: leader, using: client))
        let peer = cluster.ids.first { $0 != leader }!
        let key = keyBytes(try #require(cluster.clusterKeyHex))
        let connection = FramedConnection(socket: try Socket.connect(host: "127.0.0.1", port: cluster.ports[leader]!, timeoutMillis: 1_000))
        defer { connection.close() }
        _ = try Handshake.perform(on: connection, as: .dialer, role: .tracker, id: peer, key: key, auth: keyHolderAuth)
        let hostile: [Message] = [
            Message(kind: .heartbeat, from: peer, to: leader, term: .max),
            Message(kind: .requestVote, from: peer, to: leader, term: .max - 1, logTerm: .max, index: .max),
            Message(kind: .appendEntries, from: peer, to: leader, term: before.term, logTerm: .max, index: .max,
                    entries: [Entry(term: before.term, index: 1)], commit: .max),
            Message(kind: .appendEntries, from: peer, to: leader, term: before.term, logTerm: 1, index: 1,
                    entries: [Entry(term: 1, index: 5), Entry(term: 1, index: 3)], commit: 2),
            Message(kind: .appendResponse, from: peer, to: leader, term: before.term, index: .max),
            Message(kind: .heartbeatResponse, from: peer, to: leader, term: before.term, index: .max, context: .max),
        ]
        try connection.writeFrames(hostile.map { Frame(type: ServiceFrame.raftMessage, payload: RaftCodec.encode($0)) })
        usleep(500_000)
        let after = try #require(try cluster.status(of: leader, using: client))
        #expect(after.role == .leader && after.term == before.term, "the leader kept its term: \(after)")
        #expect(cluster.log(leader).contains("raft message refused"))
        for id in cluster.ids { #expect(cluster.isRunning(id)) }
        try cluster.expectHealthy(acknowledged: acknowledged)
    }

    @Test("commands and reads with tokens no session has are answered 'not logged in' and never reach the log")
    func bogusTokensNeverProposed() throws {
        let cluster = try ProcessCluster(extraArguments: ["--insecure"]) // raw frames: the layer TLS carries, in plaintext to reach it; the launcher made a cluster key
        defer { cluster.stop() }
        try cluster.startAll()
        let client = try cluster.client()
        let leader = try #require(try cluster.waitForLeader(using: client))
        let acknowledged = try cluster.acknowledgedGroups(2, prefix: "bogus")
        let before = try #require(try cluster.status(of: leader, using: client))
        let connection = try rawClient(port: cluster.ports[leader]!, from: "127.0.0.9")
        defer { connection.close() }
        let count = 200
        var frames: [Frame] = []
        for n in 0..<count {
            let write = ServiceOperation.command(.createGroup(groupID: "x\(n)"))
            let read = ServiceOperation.query(.listGroups())
            let token: [UInt8] = (0..<32).map { _ in UInt8.random(in: 0...255) }
            frames.append(requestFrame(n % 2 == 0 ? write : read, tag: UInt64(n + 1), token: token))
        }
        try connection.writeFrames(frames)
        var answers: [ClientResponse] = []
        while answers.count < count {
            answers.append(try decodeAnswer(try connection.readFrame(maxBytes: 1 << 20, deadline: .now + .seconds(5))).response)
        }
        #expect(answers.allSatisfy { $0 == .result(.failure(.notLoggedIn)) }, "\(Set(answers.map { "\($0)" }))")
        let after = try #require(try cluster.status(of: leader, using: client))
        #expect(after.lastIndex == before.lastIndex, "nothing was proposed: last index \(before.lastIndex) → \(after.lastIndex)")
        try cluster.expectHealthy(acknowledged: acknowledged)
    }
}
