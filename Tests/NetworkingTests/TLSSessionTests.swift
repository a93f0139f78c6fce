import Networking
import Testing

@Suite("TLS sessions in memory")
struct TLSSessionTests {
    let clientIdentity: TLSIdentity
    let serverIdentity: TLSIdentity

    init() throws {
        clientIdentity = try makeIdentity("client")
        serverIdentity = try makeIdentity("server")
    }

    private func pinnedPair(clientPins: Set<CertificateFingerprint>? = nil, serverVerifies: PeerVerification = .anyCertificate)
        throws -> (client: TLSSession, server: TLSSession) {
        try makeSessionPair(
            clientIdentity: clientIdentity, serverIdentity: serverIdentity,
            clientVerifies: .pinned(clientPins ?? [serverIdentity.fingerprint]), serverVerifies: serverVerifies)
    }

    private func connectedPair() throws -> (client: TLSSession, server: TLSSession) {
        let pair = try pinnedPair()
        let states = try pumpHandshake(client: pair.client, server: pair.server)
        try #require(states.client == .done(peerFingerprint: serverIdentity.fingerprint))
        try #require(states.server == .done(peerFingerprint: clientIdentity.fingerprint))
        return pair
    }

    @Test("a pinned handshake finishes on both sides, with TLS 1.3, the preferred suite and each other's fingerprints")
    func handshakes() throws {
        let (client, server) = try connectedPair()
        #expect(client.protocolVersion == "TLSv1.3" && server.protocolVersion == "TLSv1.3")
        #expect(client.cipherSuite == "TLS_AES_128_GCM_SHA256" && server.cipherSuite == client.cipherSuite)
    }

    @Test("data of 0 bytes to 1 MiB crosses both ways intact", arguments: [0, 1, 100, 16_383, 16_384, 16_385, 100_000, 1_048_583])
    func roundTrip(size: Int) throws {
        let (client, server) = try connectedPair()
        let up = patternBytes(count: size, seed: 1)
        let down = patternBytes(count: size, seed: 2)
        let receivedUp = try transfer(up, from: client, to: server)
        let receivedDown = try transfer(down, from: server, to: client)
        #expect(receivedUp.count == size && receivedDown.count == size)
        let isIntact = receivedUp == up && receivedDown == down
        #expect(isIntact)
    }

    @Test("a client refuses a server whose certificate is not pinned, and the server sees the refusal")
    func clientRefusesUnpinnedServer() throws {
        let (client, server) = try pinnedPair(clientPins: [unknownFingerprint, clientIdentity.fingerprint])
        let states = try pumpHandshake(client: client, server: server)
        #expect(states.client == .failed(.peerNotPinned(presented: serverIdentity.fingerprint)))
        guard case .failed(.openSSL(_, let reason)) = states.server else {
            Issue.record("server should fail on the client's alert, got \(states.server)")
            return
        }
        #expect(reason.contains("alert"))
        #expect(throws: TLSError.peerNotPinned(presented: serverIdentity.fingerprint)) {
            _ = try client.write(plaintext: UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    @Test("a mutual-auth server refuses a client whose certificate is not pinned; the client learns it on its first read")
    func serverRefusesUnpinnedClient() throws {
        let (client, server) = try pinnedPair(serverVerifies: .pinned([unknownFingerprint]))
        let states = try pumpHandshake(client: client, server: server)
        #expect(states.server == .failed(.peerNotPinned(presented: clientIdentity.fingerprint)))
        var buffer = [UInt8](repeating: 0, count: 64)
        #expect { _ = try buffer.withUnsafeMutableBytes { try client.read(into: $0) } } throws: { error in
            guard case .openSSL(_, let reason) = error as? TLSError else { return false }
            return reason.contains("alert")
        }
    }

    @Test("a server requiring a certificate refuses a client without one; optional and none accept it")
    func clientWithoutCertificate() throws {
        for (policy, expected) in [
            (PeerVerification.anyCertificate, TLSHandshakeState.failed(.peerCertificateMissing)),
            (.pinned([clientIdentity.fingerprint]), .failed(.peerCertificateMissing)),
            (.optionalCertificate, .done(peerFingerprint: nil)),
            (.noCertificate, .done(peerFingerprint: nil)),
        ] {
            let (client, server) = try makeSessionPair(
                clientIdentity: nil, serverIdentity: serverIdentity,
                clientVerifies: .pinned([serverIdentity.fingerprint]), serverVerifies: policy)
            #expect(try pumpHandshake(client: client, server: server).server == expected)
        }
    }

    @Test("anyCertificate and optionalCertificate report the client's fingerprint; noCertificate asks for none")
    func reportsFingerprints() throws {
        for (policy, expected) in [
            (PeerVerification.anyCertificate, clientIdentity.fingerprint),
            (.optionalCertificate, clientIdentity.fingerprint),
            (.noCertificate, nil),
        ] {
            let (client, server) = try pinnedPair(serverVerifies: policy)
            let states = try pumpHandshake(client: client, server: server)
            #expect(states.server == .done(peerFingerprint: expected))
            #expect(states.client == .done(peerFingerprint: serverIdentity.fingerprint))
        }
        let (client, server) = try makeSessionPair(
            clientIdentity: nil, serverIdentity: serverIdentity, clientVerifies: .anyCertificate, serverVerifies: .noCertificate)
        #expect(try pumpHandshake(client: client, server: server).client == .done(peerFingerprint: serverIdentity.fingerprint))
    }

    @Test("configurations that cannot verify are refused up front")
    func refusesBadConfiguration() throws {
        let clientContext = try TLSContext(side: .client, identity: nil)
        for policy in [PeerVerification.optionalCertificate, .noCertificate, .pinned([])] {
            #expect(throws: TLSError.self) { _ = try TLSSession(context: clientContext, verification: policy) }
        }
        #expect(throws: TLSError.invalidConfiguration("a server needs an identity")) { _ = try TLSContext(side: .server, identity: nil) }
        #expect(throws: TLSError.self) { _ = try TLSContext(side: .client, identity: nil, cipherSuites: "NOT_A_SUITE") }
        #expect(throws: TLSError.self) { _ = try TLSSession(context: clientContext, verification: .anyCertificate, bufferBytes: 10) }
    }

    @Test("the TLS limits are consistent: one receive fits an empty buffer, a record fits a buffer")
    func limitsAreConsistent() {
        TLSLimits.validate()
        #expect(TLSLimits.receiveChunkBytes <= TLSLimits.bioBufferBytes)
        #expect(TLSLimits.bioBufferBytes >= 16_384 + 256)
    }

    @Test("plaintext before the handshake and writes before it finishes are refused, not buffered")
    func refusesEarlyData() throws {
        let (client, server) = try pinnedPair()
        let bytes: [UInt8] = [1, 2, 3]
        #expect(throws: TLSError.handshakeIncomplete) { _ = try bytes.withUnsafeBytes { try client.write(plaintext: $0) } }
        var buffer = [UInt8](repeating: 0, count: 8)
        #expect(throws: TLSError.handshakeIncomplete) { _ = try buffer.withUnsafeMutableBytes { try server.read(into: $0) } }
    }
}
