import DurableLog
import Foundation
import Networking
import PeerTransfer
import Testing
import TrackerClient
import TrackerStateMachine

/// What one recorded session put on the loopback wire, and the secrets it must hide.
struct RecordedSession {
    var wire: [UInt8]
    var passwords: [String]
    var token: [UInt8]
    var salt: [UInt8]
    var passwordHash: [UInt8]
    var file: [UInt8]
    var segmentCount: Int
}

/// Real trackers and clients over TLS: nothing readable on the wire, peers admitted by key.
@Suite("TLS between trackers, clients and peers", .serialized)
struct TLSSessionTests {
    /// Runs a session while capturing the loopback traffic of every port it uses: alice and bob
    /// create users and log in (client processes), alice uploads a 1 MiB file to a group bob
    /// joined, bob downloads it; an in-process client logs in and lists groups with its token.
    static func recordSession(isInsecure: Bool) throws -> RecordedSession {
        let f = try Fixture(isInsecure: isInsecure)
        defer { f.stop() }
        let tag = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let (aliceID, bobID) = ("alice\(tag)", "bob\(tag)")
        let alicePort = try freePort()
        let bobPort = try freePort()
        let capture = try LoopbackCapture(ports: Set(f.cluster.ports.values).union([alicePort, bobPort]))
        var stopped: [UInt8]?
        defer { if stopped == nil { _ = capture.stop() } }
        let source = try makeRandomFile(in: f.files, name: "secret.bin", byteCount: 1 << 20)
        let alice = try f.client("alice", user: aliceID, port: alicePort)
        let bob = try f.client("bob", user: bobID, port: bobPort)
        try f.makeGroup("g", owner: alice, members: [(bob, bobID)])
        try #require(alice.ok("upload_file \(source) g"))
        let folder = try f.folder("bob")
        try #require(bob.ok("download_file g secret.bin \(folder)"))
        try #require(bob.waitForDownload("secret.bin")["state"] as? String == "complete")
        try #require(sha1Hex(ofFileAt: folder + "/secret.bin") == sha1Hex(ofFileAt: source))
        let tracker = try TrackerClient(cluster: try ClusterConfig.load(path: f.cluster.confPath))
        defer { tracker.close() }
        _ = try tracker.call(.createUser(userID: "tok\(tag)", password: "pw-tok\(tag)"))
        guard case let .loggedIn(token, _) = try tracker.call(.login(userID: "tok\(tag)", password: "pw-tok\(tag)", peerAddress: "127.0.0.1:9")) else {
            throw CaptureError("in-process login failed")
        }
        guard case .result(.ok(.groups)) = try tracker.call(.query(.listGroups()), token: token) else {
            throw CaptureError("list_groups failed")
        }
        usleep(300_000) // the last segments reach the capture
        stopped = capture.stop()
        let segments = capture.segmentCount.load(ordering: .relaxed)
        for id in f.cluster.ids { f.cluster.kill(id) }
        let (salt, hash) = try credentials(of: aliceID, dataDirectory: f.cluster.directory + "/data-1")
        return RecordedSession(wire: stopped ?? [], passwords: ["pw-\(aliceID)", "pw-\(bobID)", "pw-tok\(tag)"], token: token,
                               salt: salt, passwordHash: hash, file: Array(try Data(contentsOf: URL(fileURLWithPath: source))),
                               segmentCount: segments)
    }

    /// The salt and hash of `userID` as tracker 1's log recorded them (read from its disk).
    static func credentials(of userID: String, dataDirectory: String) throws -> (salt: [UInt8], hash: [UInt8]) {
        let persisted = try FileStorage(directory: dataDirectory).load()
        for entry in persisted.entries {
            guard let envelope = try? CommandEnvelope.decode(entry.data),
                  case let .createUser(id, salt, hash) = envelope.command, id == userID else { continue }
            return (salt, hash)
        }
        throw CaptureError("no createUser of \(userID) in \(dataDirectory)")
    }

    @Test("a loopback capture of a whole session over TLS shows no password, token, salt, password hash or run of the file's bytes")
    func captureShowsNothing() throws {
        let session = try Self.recordSession(isInsecure: false)
        #expect(session.segmentCount > 100, "the capture saw the session (\(session.segmentCount) segments)")
        #expect(session.wire.count > session.file.count, "the file crossed the wire, encrypted")
        for password in session.passwords { #expect(!session.wire.containsRun(Array(password.utf8)), "password \(password) on the wire") }
        #expect(!session.wire.containsRun(session.token), "the session token on the wire")
        #expect(!session.wire.containsRun(session.salt), "a salt on the wire")
        #expect(!session.wire.containsRun(session.passwordHash), "a password hash on the wire")
        #expect(!session.wire.containsAnyRun(of: session.file), "a run of the file's bytes on the wire")
    }

    @Test("the same session with --insecure shows every one of them: the capture sees what it looks for")
    func captureSeesPlaintext() throws {
        let session = try Self.recordSession(isInsecure: true)
        for password in session.passwords { #expect(session.wire.containsRun(Array(password.utf8)), "password \(password) not seen") }
        #expect(session.wire.containsRun(session.token))
        #expect(session.wire.containsRun(session.salt))
        #expect(session.wire.containsRun(session.passwordHash))
        #expect(session.wire.containsAnyRun(of: session.file))
    }

    @Test("on one host, a logged-in non-member cannot download: not through the tracker, not with its own key, not claiming a member")
    func nonMemberOnSameHostRefused() throws {
        let f = try Fixture()
        defer { f.stop() }
        let source = try makeRandomFile(in: f.files, name: "f.bin", byteCount: 1 << 20)
        let alice = try f.client("alice", user: "alice")
        let bob = try f.client("bob", user: "bob")
        let eve = try f.client("eve", user: "eve")
        try f.makeGroup("g", owner: alice, members: [(bob, "bob")])
        try #require(alice.ok("upload_file \(source) g"))
        #expect(eve.error("download_file g f.bin \(try f.folder("eve"))").contains("not a member"))
        let eveKey = try PeerConnection.identity(of: eve)
        let asSelf = try PeerConnection.open(port: alice.port, userID: "eve", groupID: "g", identity: eveKey)
        #expect(asSelf.answer != .opened, "eve as eve: \(asSelf.answer)")
        // Same IP, an online session, but eve's key is not bob's: the IP check alone let this in.
        let asBob = try PeerConnection.open(port: alice.port, userID: "bob", groupID: "g", identity: eveKey)
        guard case let .reject(reason) = asBob.answer else {
            Issue.record("eve's key claiming bob was served: \(asBob.answer)")
            return
        }
        #expect(reason.contains("certificate"), "\(reason)")
        let real = try PeerConnection.open(port: alice.port, userID: "bob", groupID: "g", identity: try PeerConnection.identity(of: bob))
        #expect(real.answer == .opened, "bob's own key is let in")
    }

    @Test("a member who left the group is refused at the first piece request after the verdict's second; one who stays is served")
    func leaverRefusedAtNextPiece() throws {
        let f = try Fixture()
        defer { f.stop() }
        let source = try makeRandomFile(in: f.files, name: "f.bin", byteCount: 4 << 20)
        let alice = try f.client("alice", user: "alice")
        let bob = try f.client("bob", user: "bob")
        try f.makeGroup("g", owner: alice, members: [(bob, "bob")])
        try #require(alice.ok("upload_file \(source) g"))
        let peer = try PeerConnection.open(port: alice.port, userID: "bob", groupID: "g", identity: try PeerConnection.identity(of: bob))
        try #require(peer.answer == .opened)
        guard case .bitfield = try peer.wire.subscribe("f.bin") else {
            Issue.record("no bitfield")
            return
        }
        func request(_ index: UInt32) throws -> PieceMessage {
            try peer.wire.send(.request(groupID: "g", fileName: "f.bin", index: index))
            return try peer.wire.receive()
        }
        guard case .piece(0, _) = try request(0) else { Issue.record("piece 0 not served to a member"); return }
        usleep(UInt32(TransferLimits.peerAuthorizationFreshMillis + 300) * 1_000)
        guard case .piece(1, _) = try request(1) else { Issue.record("piece 1 not served after a recheck"); return }
        #expect(bob.ok("leave_group g"))
        usleep(UInt32(TransferLimits.peerAuthorizationFreshMillis + 300) * 1_000)
        guard case let .reject(reason) = try request(2) else {
            Issue.record("a member who left was served")
            return
        }
        #expect(reason.contains("no longer an online member"), "\(reason)")
        #expect(alice.log.contains("recheck=true"))
    }
}
