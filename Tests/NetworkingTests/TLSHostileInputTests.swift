import CLibSSL
@testable import Networking
import Testing

/// A peer built on raw OpenSSL with a protocol range of the test's choosing, to prove that
/// TLS 1.2 is refused (and, as the control, that the same peer at TLS 1.3 is accepted).
final class RawOpenSSLPeer {
    private let context: OpaquePointer
    private let ssl: OpaquePointer
    private let network: OpaquePointer

    init(isClient: Bool, version: Int32, identity: TLSIdentity?) throws {
        context = try #require(SSL_CTX_new(TLS_method()))
        try #require(clibssl_ctx_set_protocol_range(context, version, version) == 1)
        if let identity {
            try #require(SSL_CTX_use_certificate(context, identity.certificate) == 1)
            try #require(SSL_CTX_use_PrivateKey(context, identity.key) == 1)
        }
        ssl = try #require(SSL_new(context))
        var inner: OpaquePointer?
        var outer: OpaquePointer?
        try #require(BIO_new_bio_pair(&inner, 65_536, &outer, 65_536) == 1)
        SSL_set_bio(ssl, inner, inner)
        network = try #require(outer)
        SSL_set_verify(ssl, SSL_VERIFY_NONE, nil)
        if isClient { SSL_set_connect_state(ssl) } else { SSL_set_accept_state(ssl) }
    }

    deinit {
        SSL_free(ssl)
        BIO_free(network)
        SSL_CTX_free(context)
    }

    /// Whether its handshake has finished.
    var isDone: Bool { SSL_is_init_finished(ssl) == 1 }

    /// Runs a handshake step and swaps ciphertext with `session`.
    func step(with session: TLSSession) throws {
        _ = SSL_do_handshake(ssl)
        ERR_clear_error()
        var out = [UInt8](repeating: 0, count: Int(BIO_ctrl_pending(network)))
        if !out.isEmpty {
            let count = BIO_read(network, &out, Int32(out.count))
            _ = try session.feed(out.prefix(Int(max(0, count))))
        }
        session.advanceHandshake()
        let back = session.takeCiphertext()
        if !back.isEmpty { _ = BIO_write(network, back, Int32(back.count)) }
    }
}

@Suite("TLS hostile input")
struct TLSHostileInputTests {
    let clientIdentity: TLSIdentity
    let serverIdentity: TLSIdentity

    init() throws {
        clientIdentity = try makeIdentity("client")
        serverIdentity = try makeIdentity("server")
    }

    private func connectedPair() throws -> (client: TLSSession, server: TLSSession) {
        let pair = try makeSessionPair(
            clientIdentity: clientIdentity, serverIdentity: serverIdentity,
            clientVerifies: .pinned([serverIdentity.fingerprint]), serverVerifies: .anyCertificate)
        let states = try pumpHandshake(client: pair.client, server: pair.server)
        try #require(!isInProgress(states.client) && !isInProgress(states.server))
        return pair
    }

    private func read(_ session: TLSSession) throws -> TLSReadResult {
        var buffer = [UInt8](repeating: 0, count: 70_000)
        return try buffer.withUnsafeMutableBytes { try session.read(into: $0) }
    }

    private func seal(_ text: String, by session: TLSSession) throws -> [UInt8] {
        let bytes = Array(text.utf8)
        #expect(try bytes.withUnsafeBytes { try session.write(plaintext: $0) } == bytes.count)
        return session.takeCiphertext()
    }

    @Test("TLS 1.2 is refused on both sides; the same raw peer at TLS 1.3 is accepted", arguments: [
        (TLS1_2_VERSION, false), (TLS1_3_VERSION, true),
    ])
    func refusesTLS12(version: Int32, isAccepted: Bool) throws {
        let server = try TLSSession(context: TLSContext(side: .server, identity: serverIdentity), verification: .noCertificate)
        let rawClient = try RawOpenSSLPeer(isClient: true, version: version, identity: nil)
        for _ in 0..<16 { try rawClient.step(with: server) }
        #expect(rawClient.isDone == isAccepted)
        let client = try TLSSession(context: TLSContext(side: .client, identity: nil), verification: .pinned([serverIdentity.fingerprint]))
        let rawServer = try RawOpenSSLPeer(isClient: false, version: version, identity: serverIdentity)
        for _ in 0..<16 { try rawServer.step(with: client) }
        if isAccepted {
            #expect(server.handshakeState == .done(peerFingerprint: nil))
            #expect(client.handshakeState == .done(peerFingerprint: serverIdentity.fingerprint))
        } else {
            #expect(server.handshakeState == .failed(.openSSL(operation: "handshake", reason: "unsupported protocol")))
            guard case .failed(.openSSL(_, let reason)) = client.handshakeState else {
                Issue.record("client should refuse a TLS 1.2 server, got \(client.handshakeState)")
                return
            }
            #expect(reason.contains("protocol version") || reason.contains("unsupported protocol"))
        }
    }

    @Test("a plaintext peer talking to a TLS server fails the handshake with an error")
    func refusesPlaintextPeer() throws {
        let server = try TLSSession(context: TLSContext(side: .server, identity: serverIdentity), verification: .anyCertificate)
        // A plaintext frame as this project's handshake would send it: length, type, payload.
        let plaintext: [UInt8] = [0, 0, 0, 40, 1] + Array("hello tracker, here is my cluster key...".utf8)
        _ = try server.feed(plaintext[...])
        guard case .failed(.openSSL(let operation, let reason)) = server.advanceHandshake() else {
            Issue.record("expected a failed handshake, got \(server.handshakeState)")
            return
        }
        #expect(operation == "handshake" && !reason.isEmpty)
        let client = try TLSSession(context: TLSContext(side: .client, identity: nil), verification: .anyCertificate)
        client.advanceHandshake()
        _ = try client.feed(plaintext[...])
        guard case .failed = client.advanceHandshake() else { Issue.record("client accepted plaintext"); return }
    }

    @Test("garbage, flipped bits and impossible lengths in records are errors, and the session stays failed")
    func refusesCorruptRecords() throws {
        let corruptions: [([UInt8]) -> [UInt8]] = [
            { _ in patternBytes(count: 300, seed: 9) },
            { record in var bytes = record; bytes[bytes.count / 2] ^= 0x01; return bytes },
            { record in var bytes = record; bytes[bytes.count - 1] ^= 0x80; return bytes },
            { _ in [0x17, 0x03, 0x03, 0xFF, 0xFF] + [UInt8](repeating: 0, count: 20_000) },
            { _ in [0x16, 0x03, 0x03, 0x00, 0x10] + [UInt8](repeating: 7, count: 16) },
        ]
        for corrupt in corruptions {
            let (client, server) = try connectedPair()
            let record = try seal("the password is s3cret", by: client)
            var input = corrupt(record)[...]
            while !input.isEmpty, case let taken = try server.feed(input), taken > 0 { input = input.dropFirst(taken) }
            #expect(throws: TLSError.self) { _ = try read(server) }
            #expect(throws: TLSError.self) { _ = try read(server) }
            guard case .failed = server.handshakeState else { Issue.record("session not failed"); continue }
        }
    }

    @Test("a record cut short by the end of the stream is unexpectedEndOfStream, and so is a bare end")
    func refusesTruncation() throws {
        let (client, server) = try connectedPair()
        let record = try seal(String(repeating: "x", count: 1000), by: client)
        _ = try server.feed(record.prefix(record.count / 2))
        #expect(try read(server) == .needsCiphertext)
        server.feedEndOfStream()
        #expect(throws: TLSError.unexpectedEndOfStream) { _ = try read(server) }
        let (_, other) = try connectedPair()
        other.feedEndOfStream()
        #expect(throws: TLSError.unexpectedEndOfStream) { _ = try read(other) }
        #expect(throws: TLSError.sessionClosed) { _ = try other.feed([1][...]) }
    }

    @Test("close_notify ends the stream cleanly: the peer reads .closed, even after the transport ends")
    func closesCleanly() throws {
        let (client, server) = try connectedPair()
        let record = try seal("last words", by: client)
        client.close()
        _ = try server.feed((record + client.takeCiphertext())[...])
        #expect(try read(server) == .bytes(10))
        #expect(try read(server) == .closed)
        server.feedEndOfStream()
        #expect(try read(server) == .closed)
        #expect(throws: TLSError.sessionClosed) { _ = try seal("more", by: client) }
    }

    @Test("a peer flooding ciphertext is taken only up to the buffer limit")
    func boundsBufferedCiphertext() throws {
        let (_, server) = try connectedPair()
        let flood = [UInt8](repeating: 0x17, count: 4 * TLSLimits.bioBufferBytes)
        let taken = try server.feed(flood[...])
        #expect(taken <= TLSLimits.bioBufferBytes && taken > 0)
        #expect(try server.feed(flood[taken...]) == 0)
        let (client, _) = try connectedPair()
        let big = [UInt8](repeating: 1, count: 4 * TLSLimits.bioBufferBytes)
        let written = try big.withUnsafeBytes { try client.write(plaintext: $0) }
        #expect(written < big.count && client.pendingCiphertextByteCount <= TLSLimits.bioBufferBytes)
    }
}
