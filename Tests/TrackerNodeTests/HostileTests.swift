import Consensus
import Foundation
import Networking
import Testing
import TrackerClient
import TrackerProtocol

/// Whether the tracker closed `socket` (EOF or reset), reading past any hello it sent.
func isClosedByPeer(_ socket: Socket) -> Bool {
    var buffer = [UInt8](repeating: 0, count: 256)
    for _ in 0..<4 {
        guard (try? socket.waitUntilReadable(timeoutMillis: 0)) == true else { return false }
        guard let count = try? socket.receive(into: &buffer), count > 0 else { return true }
    }
    return false
}

/// The next connection to `relay` that says it is a tracker, with its hello frame (clients
/// looking for tracker 3 connect here too: they are dropped).
func acceptTracker(on relay: Socket) throws -> (FramedConnection, Frame) {
    for _ in 0..<20 {
        let connection = FramedConnection(socket: try relay.accept())
        if let frame = try? connection.readFrame(maxBytes: 256, deadline: .now + .seconds(3)),
           let hello = try? Hello.decode(frame.payload, expectedVersion: Handshake.protocolVersion), hello.role == .tracker {
            return (connection, frame)
        }
        connection.close()
    }
    throw TrackerClientError.unavailable("no tracker dialed the relay")
}

/// Real tracker-node processes attacked from outside; after each attack a real client creates
/// and lists a group within 5 s, every tracker still runs, and no acknowledged write is lost.
@Suite("tracker-node under attack", .serialized)
struct HostileTests {
    @Test("forged Raft frames without the key and with a wrong key never reach Raft; a hostile rejection reason is logged escaped")
    func forgedRaftFrames() throws {
        let cluster = try ProcessCluster(extraArguments: ["--insecure"]) // raw frames: the layer TLS carries, in plaintext to reach it; the launcher made a cluster key
        defer { cluster.stop() }
        try cluster.startAll()
        let client = try cluster.client()
        let leader = try #require(try cluster.waitForLeader(using: client))
        let acknowledged = try cluster.acknowledgedGroups(3, prefix: "forged")
        let before = try #require(try cluster.status(of: leader, using: client))
        let port = cluster.ports[leader]!
        let peer = cluster.ids.first { $0 != leader }!
        // Accepted as Raft, this would depose the leader: a heartbeat of a much later term.
        let forged = Frame(type: ServiceFrame.raftMessage,
                           payload: RaftCodec.encode(Message(kind: .heartbeat, from: peer, to: leader, term: before.term + 100)))
        for key: [UInt8]? in [nil, [UInt8](repeating: 0xAB, count: 32)] {
            let connection = FramedConnection(socket: try Socket.connect(host: "127.0.0.1", port: port, timeoutMillis: 1_000))
            #expect(throws: (any Error).self) {
                _ = try Handshake.perform(on: connection, as: .dialer, role: .tracker, id: peer, key: key, auth: forgerAuth)
            }
            connection.close()
        }
        let hello = Hello(protocolVersion: Handshake.protocolVersion, role: .tracker, senderID: peer, nonce: [UInt8](repeating: 3, count: 16))
        let helloFrame = Frame(type: HandshakeFrameType.hello.rawValue, payload: hello.encoded())
        // Raft frames right after a bare hello, without waiting for the challenge.
        let raw = try Socket.connect(host: "127.0.0.1", port: port, timeoutMillis: 1_000)
        try raw.send(all: try Frame.encode([helloFrame, forged, forged]))
        // A proof made with a wrong key, and Raft frames at once, not waiting to be told no.
        let wrongKey = FramedConnection(socket: try Socket.connect(host: "127.0.0.1", port: port, timeoutMillis: 1_000))
        try wrongKey.writeFrame(helloFrame)
        _ = try wrongKey.readFrame(maxBytes: 256, deadline: .now + .seconds(3)) // the tracker's hello
        #expect(try wrongKey.readFrame(maxBytes: 256, deadline: .now + .seconds(3)).type == HandshakeFrameType.challenge.rawValue)
        try wrongKey.writeFrames([Frame(type: HandshakeFrameType.proof.rawValue, payload: [UInt8](repeating: 0x5A, count: 32)), forged, forged])
        // A rejection whose reason tries to forge a log line.
        let liar = try Socket.connect(host: "127.0.0.1", port: port, timeoutMillis: 1_000)
        let lie = Array("boom\n2099-01-01T00:00:00.000Z ERROR storage failed, stopping\u{1b}[31m\u{202e}".utf8)
        try liar.send(all: try Frame.encode([helloFrame, Frame(type: HandshakeFrameType.rejection.rawValue, payload: lie)]))
        usleep(300_000)
        raw.close()
        wrongKey.close()
        liar.close()
        let after = try #require(try cluster.status(of: leader, using: client))
        #expect(after.role == .leader && after.term == before.term)
        let log = cluster.log(leader)
        #expect(log.contains("handshake refused"))
        #expect(log.contains("boom\\n2099-01-01T00:00:00.000Z ERROR storage failed, stopping\\x1b[31m\\u{202e}"))
        #expect(!log.split(separator: "\n").contains { $0.hasPrefix("2099-") }, "a forged line reached the log")
        try cluster.expectHealthy(acknowledged: acknowledged)
    }

    @Test("1,100 idle connections to a follower limited to 1,024 descriptors during an election: accept refuses first, storage never fails")
    func descriptorFlood() throws {
        raiseOwnDescriptorLimit()
        let prlimit = "/usr/bin/prlimit"
        try #require(FileManager.default.isExecutableFile(atPath: prlimit))
        let wrapper = [prlimit, "--nofile=1024:1024", "--"]
        let cluster = try ProcessCluster(extraArguments: ["--insecure"]) // raw frames: the layer TLS carries, in plaintext to reach it; the launcher made a cluster key
        defer { cluster.stop() }
        for id in cluster.ids { try cluster.start(id, wrapper: wrapper) }
        let client = try cluster.client()
        let leader = try #require(try cluster.waitForLeader(using: client))
        let acknowledged = try cluster.acknowledgedGroups(3, prefix: "fd")
        let follower = cluster.ids.first { $0 != leader }!
        let port = cluster.ports[follower]!
        // One address gets its share (128) and no more; loopback is no exception.
        let share = (0..<138).compactMap { _ in try? Socket.connect(host: "127.0.0.1", port: port, timeoutMillis: 1_000, localHost: "127.0.0.30") }
        usleep(300_000)
        #expect(share.count == 138 && share.filter(isClosedByPeer).count == 10)
        for socket in share { socket.close() }
        usleep(200_000)
        // 1,100 idle connections from 20 addresses, each within its share: more than the
        // descriptors the follower has.
        var idle: [Socket] = []
        for i in 0..<1_100 {
            if let socket = try? Socket.connect(host: "127.0.0.1", port: port, timeoutMillis: 1_000, localHost: "127.0.0.\(2 + i % 20)") {
                idle.append(socket)
            }
        }
        cluster.kill(leader) // an election, while the follower's connection budget is spent
        usleep(1_500_000)
        #expect(idle.count == 1_100)
        let refused = idle.filter(isClosedByPeer).count
        #expect(refused > 100 && refused < 400, "refused \(refused)")
        for socket in idle { socket.close() }
        let newLeader = try #require(try cluster.waitForLeader(using: client, timeoutMillis: 5_000))
        #expect(newLeader != leader)
        #expect(cluster.isRunning(follower))
        let log = cluster.log(follower)
        #expect(log.contains("connection refused"))
        #expect(!log.contains("storage failed"))
        try cluster.start(leader, wrapper: wrapper)
        try cluster.expectHealthy(acknowledged: acknowledged)
        // Repeated refusals were rate-limited, with a count of what was left out.
        let deadline = Date().addingTimeInterval(6)
        while !cluster.log(follower).contains("suppressed="), Date() < deadline { usleep(100_000) }
        let lines = cluster.log(follower).split(separator: "\n")
        #expect(lines.contains { $0.contains("suppressed=") && $0.contains("connection refused") })
        #expect(lines.filter { $0.contains("WARN connection refused") }.count < 50, "refusals were not rate-limited")
    }

    @Test("a handshake relayed from a genuine tracker to another is refused, and a dialer refuses a peer posing under another id")
    func handshakeRelay() throws {
        let cluster = try ProcessCluster(extraArguments: ["--insecure"]) // raw frames: the layer TLS carries, in plaintext to reach it; the launcher made a cluster key
        defer { cluster.stop() }
        try cluster.start(1)
        try cluster.start(2)
        let client = try cluster.client()
        _ = try #require(try cluster.waitForLeader(using: client))
        let acknowledged = try cluster.acknowledgedGroups(3, prefix: "relay")
        // Tracker 3's port now belongs to the attacker: trackers 1 and 2 dial it (taken only
        // now, so that no dial waits in its backlog past the dialer's handshake deadline).
        let relay = try Socket.listen(host: "127.0.0.1", port: cluster.ports[3]!)
        defer { relay.close() }
        try relay.setReceiveTimeout(millis: 5_000)
        // 1. A genuine tracker X dials "3"; its proof is relayed to the other tracker Y.
        let (dialed, helloX) = try acceptTracker(on: relay)
        let x = try Hello.decode(helloX.payload, expectedVersion: Handshake.protocolVersion).senderID
        let y: NodeID = x == 1 ? 2 : 1
        let termBefore = try #require(try cluster.status(of: y, using: client)).term
        let toY = FramedConnection(socket: try Socket.connect(host: "127.0.0.1", port: cluster.ports[y]!, timeoutMillis: 1_000, localHost: "127.0.0.6"))
        defer { toY.close() }
        let helloY = try Hello.decode(try toY.readFrame(maxBytes: 256, deadline: .now + .seconds(3)).payload, expectedVersion: Handshake.protocolVersion)
        try toY.writeFrame(helloX) // "I am tracker X"
        let posing = Hello(protocolVersion: Handshake.protocolVersion, role: .tracker, senderID: 3, nonce: helloY.nonce)
        try dialed.writeFrames([Frame(type: HandshakeFrameType.hello.rawValue, payload: posing.encoded()),
                                Frame(type: HandshakeFrameType.challenge.rawValue)])
        #expect(try toY.readFrame(maxBytes: 256, deadline: .now + .seconds(3)).type == HandshakeFrameType.challenge.rawValue)
        let proof = try dialed.readFrame(maxBytes: 256, deadline: .now + .seconds(3))
        #expect(proof.type == HandshakeFrameType.proof.rawValue)
        try toY.writeFrame(proof)
        let answer = try toY.readFrame(maxBytes: 256, deadline: .now + .seconds(3))
        #expect(answer.type == HandshakeFrameType.rejection.rawValue, "tracker \(y) accepted a relayed proof")
        let forged = Message(kind: .heartbeat, from: x, to: y, term: termBefore + 100)
        try? toY.writeFrame(Frame(type: ServiceFrame.raftMessage, payload: RaftCodec.encode(forged)))
        dialed.close()
        // 2. The next tracker to dial "3" is told it reached another id: it refuses before proving.
        let (redialed, redialHello) = try acceptTracker(on: relay)
        defer { redialed.close() }
        let dialer = try Hello.decode(redialHello.payload, expectedVersion: Handshake.protocolVersion).senderID
        let impostor = Hello(protocolVersion: Handshake.protocolVersion, role: .tracker, senderID: dialer == 1 ? 2 : 1,
                             nonce: [UInt8](repeating: 8, count: 16))
        try redialed.writeFrames([Frame(type: HandshakeFrameType.hello.rawValue, payload: impostor.encoded()),
                                  Frame(type: HandshakeFrameType.challenge.rawValue)])
        let refusal = try redialed.readFrame(maxBytes: 256, deadline: .now + .seconds(3))
        #expect(refusal.type == HandshakeFrameType.rejection.rawValue)
        #expect(String(decoding: refusal.payload, as: UTF8.self).contains("dialed tracker 3"))
        usleep(200_000)
        #expect(try cluster.status(of: y, using: client)?.term == termBefore)
        #expect(cluster.log(y).contains("peer failed to prove knowledge of the cluster key"))
        relay.close()
        try cluster.start(3)
        try cluster.expectHealthy(acknowledged: acknowledged)
    }
}
