import Networking
import Testing

/// A man in the middle between a genuine dialer (tracker 2, which meant to reach tracker 3) and
/// a genuine acceptor (tracker 1): it forwards the dialer's hello to the acceptor, shows the
/// dialer the acceptor's nonce under the id `claimedID`, and forwards the dialer's proof.
struct RelayOutcome {
    var dialer: Result<Hello, any Error>
    var acceptor: Result<Hello, any Error>
}

func attemptRelay(claimedID: UInt64, key: [UInt8]) throws -> RelayOutcome {
    let (dialerSocket, attackerFacingDialer) = try makeConnectedPair()
    let (attackerFacingAcceptor, acceptorSocket) = try makeConnectedPair()
    let toDialer = FramedConnection(socket: attackerFacingDialer)
    let toAcceptor = FramedConnection(socket: attackerFacingAcceptor)
    defer { toDialer.close(); toAcceptor.close() }
    let acceptorThread = PeerThread<Hello>.start {
        try Handshake.perform(on: FramedConnection(socket: acceptorSocket), as: .acceptor, role: .tracker, id: 1, key: key,
                              auth: TestOnlyInsecureAuthenticator.make(seed: 1))
    }
    let dialerThread = PeerThread<Hello>.start {
        try Handshake.perform(on: FramedConnection(socket: dialerSocket), as: .dialer, role: .tracker, id: 2, key: key,
                              auth: TestOnlyInsecureAuthenticator.make(seed: 2), expectedPeerID: 3)
    }
    let dialerHello = try toDialer.readFrame()
    let acceptorHelloFrame = try toAcceptor.readFrame()
    let acceptorHello = try Hello.decode(acceptorHelloFrame.payload, expectedVersion: Handshake.protocolVersion)
    // To the acceptor: the dialer's own hello (tracker 2 and its nonce).
    try toAcceptor.writeFrame(dialerHello)
    // To the dialer: "I am tracker `claimedID`", with the acceptor's nonce, and a challenge.
    let posing = Hello(protocolVersion: Handshake.protocolVersion, role: .tracker, senderID: claimedID, nonce: acceptorHello.nonce)
    try toDialer.writeFrame(Frame(type: HandshakeFrameType.hello.rawValue, payload: posing.encoded()))
    try toDialer.writeFrame(Frame(type: HandshakeFrameType.challenge.rawValue))
    _ = try? toAcceptor.readFrame() // the acceptor's challenge
    if let proof = try? toDialer.readFrame(), proof.type == HandshakeFrameType.proof.rawValue {
        try toAcceptor.writeFrame(proof)
        // Whatever the acceptor answers (its own proof or a rejection) goes back to the dialer.
        if let answer = try? toAcceptor.readFrame() { try? toDialer.writeFrame(answer) }
    } else {
        toAcceptor.close()
    }
    return RelayOutcome(dialer: Result { try dialerThread.join() }, acceptor: Result { try acceptorThread.join() })
}

@Suite("handshake relay and reflection", .serialized)
struct HandshakeRelayTests {
    let key = Array("cluster-secret".utf8)

    @Test("a proof relayed from a dialer that meant another tracker is refused by the tracker it is relayed to")
    func relayedProofRefused() throws {
        let outcome = try attemptRelay(claimedID: 3, key: key)
        #expect(throws: HandshakeError.authenticationFailed) { try outcome.acceptor.get() }
        #expect(throws: (any Error).self) { try outcome.dialer.get() }
    }

    @Test("a dialer refuses a peer announcing another id than the one it dialed, before it proves anything")
    func unexpectedPeerRefused() throws {
        let outcome = try attemptRelay(claimedID: 1, key: key)
        #expect(throws: HandshakeError.unexpectedPeer(expected: 3, announced: 1)) { try outcome.dialer.get() }
        #expect(throws: (any Error).self) { try outcome.acceptor.get() }
    }

    @Test("an acceptor that reflects the dialer's own proof back is refused")
    func reflectedProofRefused() throws {
        let (dialerSocket, fakeSocket) = try makeConnectedPair()
        let fake = FramedConnection(socket: fakeSocket)
        defer { fake.close() }
        let dialerThread = PeerThread<Hello>.start {
            try Handshake.perform(on: FramedConnection(socket: dialerSocket), as: .dialer, role: .tracker, id: 2,
                                  key: Array("cluster-secret".utf8), auth: TestOnlyInsecureAuthenticator.make(seed: 2), expectedPeerID: 3)
        }
        _ = try fake.readFrame()
        let hello = Hello(protocolVersion: Handshake.protocolVersion, role: .tracker, senderID: 3, nonce: [UInt8](repeating: 5, count: 16))
        try fake.writeFrames([Frame(type: HandshakeFrameType.hello.rawValue, payload: hello.encoded()),
                              Frame(type: HandshakeFrameType.challenge.rawValue)])
        let proof = try fake.readFrame()
        try fake.writeFrame(proof)
        #expect(throws: HandshakeError.authenticationFailed) { try dialerThread.join() }
    }

    @Test("the two directions' proofs over the same hellos differ, and each names both ids")
    func proofMessagesBindDirectionAndIDs() {
        let dialer = Hello(protocolVersion: 1, role: .tracker, senderID: 2, nonce: [UInt8](repeating: 1, count: 16))
        let acceptor = Hello(protocolVersion: 1, role: .tracker, senderID: 3, nonce: [UInt8](repeating: 2, count: 16))
        var otherAcceptor = acceptor
        otherAcceptor.senderID = 1
        let forward = Handshake.proofMessage(.dialerToAcceptor, dialer: dialer, acceptor: acceptor)
        #expect(forward != Handshake.proofMessage(.acceptorToDialer, dialer: dialer, acceptor: acceptor))
        #expect(forward != Handshake.proofMessage(.dialerToAcceptor, dialer: dialer, acceptor: otherAcceptor))
        #expect(forward != Handshake.proofMessage(.dialerToAcceptor, dialer: acceptor, acceptor: dialer))
    }
}
