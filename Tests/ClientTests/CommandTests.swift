import Foundation
import Networking
import PeerTransfer
import ProcessHarness
import Testing
import TrackerClient

/// The command line, command errors, the peer server's refusals and resumed shares.
@Suite("client commands and peer server", .serialized)
struct CommandTests {
    @Test("--help exits 0, an unknown flag or a missing argument exits 2")
    func commandLine() throws {
        func status(_ arguments: [String]) throws -> Int32 {
            try runToExit(executablePath("client"), arguments).status
        }
        #expect(try status(["--help"]) == 0)
        #expect(try status(["127.0.0.1:1", "cluster.conf", "--bogus"]) == 2)
        #expect(try status(["127.0.0.1:1"]) == 2)
    }

    @Test("every command reports its errors in one line: login, arity, membership, ownership, files, paths")
    func commandErrors() throws {
        let f = try Fixture()
        defer { f.stop() }
        let source = try makeRandomFile(in: f.files, name: "f.bin", byteCount: 1 << 20)
        let alice = try f.client("alice", user: "alice")
        let bob = try f.client("bob")
        #expect(bob.error("list_groups") == "not logged in")
        #expect(bob.error("create_group g2") == "not logged in")
        #expect(bob.error("upload_file \(source) g") == "not logged in")
        #expect(bob.error("download_file g f.bin /tmp") == "not logged in")
        #expect(bob.error("frobnicate").contains("unknown command"))
        #expect(bob.error("create_group").hasPrefix("usage: create_group <group_id>"))
        #expect(bob.error("login bob") == "usage: login <user_id> <password>")
        #expect(bob.ok("create_user bob pw-bob"))
        #expect(bob.error("create_user bob other").contains("user already exists"))
        #expect(bob.error("login bob wrong") != "")
        #expect(bob.ok("login bob pw-bob"))
        #expect(bob.error("login bob pw-bob").contains("already logged in"))
        #expect(alice.ok("create_group g"))
        #expect(alice.ok("upload_file \(source) g"))
        #expect(bob.error("list_files g").contains("not a member"))
        let bobDir = try f.folder("bob")
        #expect(bob.error("download_file g f.bin \(bobDir)").contains("not a member"))
        #expect(bob.error("list_requests g").contains("not the owner"))
        #expect(bob.error("accept_request g bob").contains("not the owner"))
        #expect(bob.error("join_group nosuch").contains("no such group"))
        #expect(bob.ok("join_group g"))
        #expect(bob.error("join_group g").contains("already pending"))
        #expect(alice.ok("accept_request g bob"))
        #expect(bob.error("download_file g nosuch.bin \(f.files)").contains("no such file"))
        #expect(bob.error("stop_share g f.bin").contains("not sharing"))
        #expect(bob.error("upload_file \(f.files)/missing.bin g").hasPrefix("bad path"))
        #expect(bob.error("upload_file \(f.files) g").hasPrefix("bad path"), "a folder is not a file")
        #expect(bob.error("download_file g f.bin \(f.files)/no/such/folder/x.bin").hasPrefix("bad path"))
        #expect(bob.error("download_file g f.bin \(f.files)").contains("file already exists at the destination"))
        #expect(bob.error("download_file g f.bin \(source)").contains("file already exists at the destination"))
        #expect(bob.ok("logout"))
        #expect(bob.error("logout") == "not logged in")
        let answer = bob.run("cluster_status")
        let status = answer["trackers"] as? [[String: Any]] ?? []
        #expect(status.count == 3)
        #expect(status.filter { $0["role"] as? String == "leader" }.count == 1)
        // The configuration in force: each member with its role and address.
        let members = answer["members"] as? [[String: Any]] ?? []
        #expect(members.map { $0["role"] as? String } == ["voter", "voter", "voter"])
        #expect(members.allSatisfy { ($0["address"] as? String)?.hasPrefix("127.0.0.1:") == true })
    }

    @Test("the peer server refuses a logged-in user who is not a member, and serves a member")
    func peerServerRefusesNonMembers() throws {
        let f = try Fixture()
        defer { f.stop() }
        let source = try makeRandomFile(in: f.files, name: "f.bin", byteCount: 1 << 20)
        let alice = try f.client("alice", user: "alice")
        #expect(alice.ok("create_group g"))
        #expect(alice.ok("upload_file \(source) g"))
        let tracker = try TrackerClient(cluster: try ClusterConfig.load(path: f.cluster.confPath))
        defer { tracker.close() }
        _ = try tracker.call(.createUser(userID: "mallory", password: "pw"))
        guard case .loggedIn = try tracker.call(.login(userID: "mallory", password: "pw", peerAddress: "127.0.0.1:9")) else {
            Issue.record("mallory could not log in")
            return
        }
        let refused = try openPeer(port: alice.port, userID: "mallory", groupID: "g")
        guard case let .reject(reason) = refused.answer else {
            Issue.record("a non-member was served: \(refused.answer)")
            return
        }
        #expect(reason.contains("not an online member"))

        // Garbage after the handshake ends only that connection.
        let garbage = try PeerConnection.handshaken(port: alice.port, identity: try PeerConnection.stranger())
        try garbage.stream.send(all: [0xFF, 0xFF, 0xFF, 0xFF, 37] + [UInt8](repeating: 7, count: 100))
        garbage.stream.close()

        // bob is an online member (his client logged in from 127.0.0.1): the same path is served.
        let bob = try f.client("bob", user: "bob")
        try f.join(bob, userID: "bob", group: "g", owner: alice)
        // Over TLS only bob's own key (in his state directory) opens the door.
        let impostor = try openPeer(port: alice.port, userID: "bob", groupID: "g")
        #expect(impostor.answer != .opened, "a stranger's key claiming bob is refused")
        let served = try openPeer(port: alice.port, userID: "bob", groupID: "g", identity: try PeerConnection.identity(of: bob))
        #expect(served.answer == .opened)
        guard case .bitfield = try served.wire.subscribe("f.bin") else {
            Issue.record("no bitfield for a member")
            return
        }
        try served.wire.send(.request(groupID: "g", fileName: "f.bin", index: 0))
        guard case let .piece(index, bytes) = try served.wire.receiveAnswer() else {
            Issue.record("no piece for a member")
            return
        }
        let original = try Data(contentsOf: URL(fileURLWithPath: source))
        #expect(index == 0 && bytes == Array(original.prefix(TransferLimits.pieceSizeBytes)))
        try served.wire.send(.request(groupID: "g", fileName: "../../etc/passwd", index: 0))
        guard case .reject = try served.wire.receiveAnswer() else {
            Issue.record("a request naming a path was served")
            return
        }
        try served.wire.send(.request(groupID: "other", fileName: "f.bin", index: 0))
        guard case .reject = try served.wire.receiveAnswer() else {
            Issue.record("a request for another group was served")
            return
        }
        #expect(alice.ok("stop_share g f.bin"))
        try served.wire.send(.request(groupID: "g", fileName: "f.bin", index: 0))
        guard case .reject = try served.wire.receiveAnswer() else {
            Issue.record("a piece of a file no longer shared was served")
            return
        }
    }

    @Test("login again resumes the user's shares, and drops a file that changed")
    func loginResumesShares() throws {
        let f = try Fixture()
        defer { f.stop() }
        let kept = try makeRandomFile(in: f.files, name: "kept.bin", byteCount: 1 << 20)
        let changed = try makeRandomFile(in: f.files, name: "changed.bin", byteCount: 1 << 20)
        let alice = try f.client("alice", user: "alice")
        #expect(alice.ok("create_group g"))
        #expect(alice.ok("upload_file \(kept) g"))
        #expect(alice.ok("upload_file \(changed) g"))
        #expect(alice.ok("logout"))
        _ = try makeRandomFile(in: f.files, name: "changed.bin", byteCount: 1 << 20)
        let login = alice.run("login alice pw-alice")
        #expect(login["resumed_shares"] as? Int == 1)
        #expect(login["dropped_shares"] as? Int == 1)
        let carol = try f.client("carol", user: "carol")
        try f.join(carol, userID: "carol", group: "g", owner: alice)
        let dir = try f.folder("carol")
        #expect(carol.ok("download_file g kept.bin \(dir)"))
        #expect(carol.waitForDownload("kept.bin")["state"] as? String == "complete")
        #expect(sha1Hex(ofFileAt: dir + "/kept.bin") == sha1Hex(ofFileAt: kept))
        #expect(carol.error("download_file g changed.bin \(dir)").contains("no such file"), "the changed file is no longer shared")
    }

    @Test("an idle client keeps its session past the tracker's 10 s lease, and keeps serving")
    func keepAlive() throws {
        let f = try Fixture()
        defer { f.stop() }
        let source = try makeRandomFile(in: f.files, name: "f.bin", byteCount: 1 << 20)
        let alice = try f.client("alice", user: "alice")
        #expect(alice.ok("create_group g"))
        #expect(alice.ok("upload_file \(source) g"))
        usleep(12_000_000)
        #expect(alice.ok("list_groups"), "still logged in after 12 s without commands")
        let carol = try f.client("carol", user: "carol")
        try f.join(carol, userID: "carol", group: "g", owner: alice)
        let dir = try f.folder("carol")
        #expect(carol.ok("download_file g f.bin \(dir)"))
        #expect(carol.waitForDownload("f.bin")["state"] as? String == "complete")
    }

    @Test("SIGTERM logs out and exits 0; at the end of its input the client first finishes its downloads")
    func signalsAndEndOfInput() throws {
        let f = try Fixture()
        defer { f.stop() }
        let source = try makeRandomFile(in: f.files, name: "f.bin", byteCount: 4 << 20)
        let alice = try f.client("alice", user: "alice", extraArguments: ["--test-serve-delay-ms", "40"])
        let bob = try f.client("bob", user: "bob")
        let carol = try f.client("carol", user: "carol")
        try f.makeGroup("g", owner: alice, members: [(bob, "bob"), (carol, "carol")])
        #expect(alice.ok("upload_file \(source) g"))
        #expect(bob.ok("upload_file \(source) g"))
        bob.terminate()
        #expect(bob.wait(timeoutMillis: 10_000) == 0)
        let files = carol.run("list_files g")["files"] as? [[String: Any]] ?? []
        #expect(files.first?["online_sharers"] as? Int == 1, "bob logged out on SIGTERM")
        let dir = try f.folder("carol")
        #expect(carol.ok("download_file g f.bin \(dir)"))
        #expect(carol.closeInput() == 0)
        #expect(sha1Hex(ofFileAt: dir + "/f.bin") == sha1Hex(ofFileAt: source), "the download finished before the exit")
    }

    /// Connects to a peer server as `userID` and sends `open`; returns the wire and the answer.
    private func openPeer(port: UInt16, userID: String, groupID: String, identity: TLSIdentity? = nil) throws -> (wire: PieceWire, answer: PieceMessage) {
        let peer = try PeerConnection.open(port: port, userID: userID, groupID: groupID, identity: try identity ?? PeerConnection.stranger())
        return (peer.wire, peer.answer)
    }
}

/// A test's own piece-protocol connection to a client's peer server.
enum PeerConnection {
    /// Connects to a peer server as `userID` and sends `open`; returns the wire and the answer.
    /// With `identity` the connection is TLS presenting it (client processes serve TLS); without,
    /// plaintext (in-process servers made without a TLS context).
    static func open(port: UInt16, userID: String, groupID: String, identity: TLSIdentity? = nil) throws -> (wire: PieceWire, answer: PieceMessage) {
        let wire = try handshaken(port: port, identity: identity)
        try wire.socket.setReceiveTimeout(millis: 10_000)
        try wire.send(.open(userID: userID, groupID: groupID))
        return (wire, try wire.receive())
    }

    /// A connection to a peer server past the TLS handshake (with `identity`) and the hello.
    static func handshaken(port: UInt16, identity: TLSIdentity?) throws -> PieceWire {
        let socket = try Socket.connect(host: "127.0.0.1", port: port, timeoutMillis: 2_000)
        guard let identity else {
            _ = try Handshake.perform(on: FramedConnection(socket: socket), as: .dialer, role: .piecePeer, id: 1, key: nil,
                                      auth: PeerHandshake.authenticator)
            return PieceWire(socket: socket)
        }
        let stream = try TLSStream.handshake(socket: socket, context: try TLSContext(side: .client, identity: identity),
                                             verification: .anyCertificate, deadline: .now + .seconds(3))
        _ = try Handshake.perform(on: FramedConnection(tls: stream), as: .dialer, role: .piecePeer, id: 1, key: nil,
                                  auth: PeerHandshake.authenticator)
        return PieceWire(tls: stream)
    }

    /// A throwaway identity (a stranger's key).
    static func stranger() throws -> TLSIdentity { try TLSIdentity.makeEphemeral(commonName: "stranger") }

    /// The identity a client process keeps in its state directory.
    static func identity(of client: ClientProcess) throws -> TLSIdentity {
        try TLSIdentity.load(directory: client.stateDirectory + "/identity")
    }
}
