import Networking
import Testing

/// What each side of one handshake ended with.
struct HandshakeOutcome {
    var dialer: Result<Hello, any Error>
    var acceptor: Result<Hello, any Error>
    var dialerConnection: FramedConnection
    var acceptorConnection: FramedConnection

    func dialerError() -> String? { if case .failure(let error) = dialer { return "\(error)" } else { return nil } }
    func acceptorError() -> String? { if case .failure(let error) = acceptor { return "\(error)" } else { return nil } }
}

/// Runs both sides of a handshake over loopback: the acceptor on its own thread.
func runHandshake(
    dialerKey: [UInt8]?, acceptorKey: [UInt8]?,
    dialerVersion: UInt16 = Handshake.protocolVersion, acceptorVersion: UInt16 = Handshake.protocolVersion
) throws -> HandshakeOutcome {
    let (dialerSocket, acceptorSocket) = try makeConnectedPair()
    let dialer = FramedConnection(socket: dialerSocket)
    let acceptor = FramedConnection(socket: acceptorSocket)
    let acceptorThread = PeerThread<Hello>.start {
        try Handshake.perform(
            on: acceptor, as: .acceptor, role: .tracker, id: 1, key: acceptorKey,
            auth: TestOnlyInsecureAuthenticator.make(seed: 1), protocolVersion: acceptorVersion)
    }
    let dialerResult = Result {
        try Handshake.perform(
            on: dialer, as: .dialer, role: .tracker, id: 2, key: dialerKey,
            auth: TestOnlyInsecureAuthenticator.make(seed: 2), protocolVersion: dialerVersion)
    }
    let acceptorResult = Result { try acceptorThread.join() }
    return HandshakeOutcome(
        dialer: dialerResult, acceptor: acceptorResult, dialerConnection: dialer, acceptorConnection: acceptor)
}

@Suite("connection handshake", .serialized)
struct HandshakeTests {
    let key = Array("cluster-secret".utf8)

    @Test("without a key both sides learn each other's hello and the connection carries frames")
    func noKeySucceeds() throws {
        let outcome = try runHandshake(dialerKey: nil, acceptorKey: nil)
        defer { outcome.dialerConnection.close(); outcome.acceptorConnection.close() }
        let seenByDialer = try outcome.dialer.get()
        let seenByAcceptor = try outcome.acceptor.get()
        #expect(seenByDialer.senderID == 1 && seenByDialer.role == .tracker)
        #expect(seenByAcceptor.senderID == 2 && seenByAcceptor.protocolVersion == Handshake.protocolVersion)
        try outcome.dialerConnection.writeFrame(Frame(type: 40, payload: [7]))
        #expect(try outcome.acceptorConnection.readFrame() == Frame(type: 40, payload: [7]))
        // The handshake restored the receive timeout it found.
        #expect(try outcome.acceptorConnection.socket.receiveTimeoutMillis() == testReceiveTimeoutMillis)
    }

    @Test("a matching cluster key is accepted by both sides")
    func matchingKeySucceeds() throws {
        let outcome = try runHandshake(dialerKey: key, acceptorKey: key)
        defer { outcome.dialerConnection.close(); outcome.acceptorConnection.close() }
        #expect(try outcome.dialer.get().senderID == 1)
        #expect(try outcome.acceptor.get().senderID == 2)
        #expect(!outcome.dialerConnection.socket.isClosed)
    }

    @Test("a wrong cluster key is refused on both sides and both connections are closed")
    func keyMismatchRefused() throws {
        let outcome = try runHandshake(dialerKey: Array("wrong".utf8), acceptorKey: key)
        #expect(outcome.acceptorError() == "peer failed to prove knowledge of the cluster key")
        #expect(outcome.dialerError() == "peer refused the handshake: peer failed to prove knowledge of the cluster key")
        #expect(outcome.dialerConnection.socket.isClosed && outcome.acceptorConnection.socket.isClosed)
    }

    @Test("a dialer without the key is refused by an acceptor that requires it")
    func missingKeyRefused() throws {
        let outcome = try runHandshake(dialerKey: nil, acceptorKey: key)
        #expect(outcome.dialerError() == "peer requires a cluster key, but none is configured")
        #expect(outcome.acceptorError() == "peer refused the handshake: peer requires a cluster key, but none is configured")
    }

    @Test("a dialer with a key refuses an acceptor that does not ask for proof")
    func downgradeRefused() throws {
        let outcome = try runHandshake(dialerKey: key, acceptorKey: nil)
        defer { outcome.acceptorConnection.close() }
        #expect(outcome.dialerError() == "a cluster key is configured, but the peer did not ask for proof")
    }

    @Test("a protocol version mismatch is a clear error on both sides")
    func versionMismatch() throws {
        let outcome = try runHandshake(dialerKey: nil, acceptorKey: nil, dialerVersion: 2, acceptorVersion: 1)
        #expect(outcome.acceptorError() == "protocol version 2, expected 1")
        #expect(outcome.dialerError() == "protocol version 1, expected 2")
    }

    @Test("garbage bytes instead of a hello are refused at once with a clear error", arguments: [
        (Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), "peer did not send a hello: frame of 1195725856 bytes exceeds the limit of 256"),
        ([0, 0, 0, 4, 1, 0x50, 0x32, 0x50, 0x54], "malformed hello: truncated version"),
        ([0, 0, 0, 5, 1, 0x58, 0x58, 0x58, 0x58, 0], "peer did not send a hello: bad magic (expected P2PT)"),
        ([0, 0, 0, 3, 9, 1, 2, 3], "expected hello frame, got frame type 9"),
    ])
    func garbageRefused(garbage: [UInt8], message: String) throws {
        let (dialer, acceptorSocket) = try makeConnectedPair()
        defer { dialer.close() }
        let acceptor = FramedConnection(socket: acceptorSocket)
        try dialer.send(all: garbage)
        #expect {
            _ = try Handshake.perform(
                on: acceptor, as: .acceptor, role: .tracker, id: 1, key: nil,
                auth: TestOnlyInsecureAuthenticator.make(seed: 1))
        } throws: { error in
            "\(error)" == message
        }
        #expect(acceptor.socket.isClosed)
    }

    @Test("a peer that echoes our own nonce back is refused")
    func reflectedNonceRefused() throws {
        let (dialerSocket, fakeSocket) = try makeConnectedPair()
        let dialer = FramedConnection(socket: dialerSocket)
        let fake = FramedConnection(socket: fakeSocket)
        defer { fake.close() }
        let mirror = PeerThread<Void>.start {
            let hello = try fake.readFrame()
            try fake.writeFrame(hello)
            try fake.writeFrame(Frame(type: HandshakeFrameType.challenge.rawValue))
        }
        #expect(throws: HandshakeError.reflectedNonce) {
            _ = try Handshake.perform(
                on: dialer, as: .dialer, role: .tracker, id: 2, key: key,
                auth: TestOnlyInsecureAuthenticator.make(seed: 2))
        }
        try mirror.join()
    }

    @Test("a silent peer makes the handshake time out instead of hanging")
    func silentPeerTimesOut() throws {
        let (dialerSocket, silent) = try makeConnectedPair()
        defer { silent.close() }
        let dialer = FramedConnection(socket: dialerSocket)
        #expect(throws: SocketError.timedOut(operation: "receive")) {
            _ = try Handshake.perform(
                on: dialer, as: .dialer, role: .client, id: 9, key: nil,
                auth: TestOnlyInsecureAuthenticator.make(seed: 3), timeoutMillis: 100)
        }
    }

    @Test("constant-time comparison is equality")
    func constantTimeEquals() {
        #expect(Handshake.constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!Handshake.constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!Handshake.constantTimeEquals([1, 2, 3], [1, 2]))
        #expect(Handshake.constantTimeEquals([], []))
    }
}
