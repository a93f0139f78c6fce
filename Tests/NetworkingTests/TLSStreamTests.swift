import Networking
import Testing

@Suite("TLS over loopback TCP", .serialized)
struct TLSStreamTests {
    let clientIdentity: TLSIdentity
    let serverIdentity: TLSIdentity
    let clientContext: TLSContext
    let serverContext: TLSContext

    init() throws {
        clientIdentity = try makeIdentity("client")
        serverIdentity = try makeIdentity("server")
        clientContext = try TLSContext(side: .client, identity: clientIdentity)
        serverContext = try TLSContext(side: .server, identity: serverIdentity)
    }

    static func deadline(millis: Int = testReceiveTimeoutMillis) -> ContinuousClock.Instant {
        .now + .milliseconds(millis)
    }

    /// Handshakes a loopback pair: the server on a thread, the client here.
    private func handshake(
        clientPins: Set<CertificateFingerprint>? = nil, serverVerifies: PeerVerification = .pinned([])
    ) throws -> (client: Result<TLSStream, any Error>, server: Result<TLSStream, any Error>, sockets: [Socket]) {
        let (dialer, acceptor) = try makeConnectedPair()
        // A peer that stops reading fails a blocked writer instead of hanging the test.
        try dialer.setSendTimeout(millis: 20_000)
        try acceptor.setSendTimeout(millis: 20_000)
        let serverPolicy = serverVerifies == .pinned([]) ? .pinned([clientIdentity.fingerprint]) : serverVerifies
        let serverContext = serverContext
        let server = PeerThread<TLSStream>.start {
            try TLSStream.handshake(socket: acceptor, context: serverContext, verification: serverPolicy, deadline: Self.deadline())
        }
        let client = Result {
            try TLSStream.handshake(
                socket: dialer, context: clientContext,
                verification: .pinned(clientPins ?? [serverIdentity.fingerprint]), deadline: Self.deadline())
        }
        return (client, Result { try server.join() }, [dialer, acceptor])
    }

    private func connected() throws -> (client: FramedConnection, server: FramedConnection) {
        let outcome = try handshake()
        let client = try outcome.client.get()
        let server = try outcome.server.get()
        #expect(client.peerFingerprint == serverIdentity.fingerprint && server.peerFingerprint == clientIdentity.fingerprint)
        #expect(client.cipherSuite == "TLS_AES_128_GCM_SHA256")
        return (FramedConnection(tls: client), FramedConnection(tls: server))
    }

    @Test("frames of 0 bytes to 16 MiB echo back intact over TLS")
    func echoesFrames() throws {
        let (client, server) = try connected()
        defer { client.close(); server.close() }
        let sizes = [0, 1, 100, 16_383, 16_384, 16_385, 65_537, 512 * 1024, 16 * 1024 * 1024, 7]
        // Made before the echo starts waiting: a 16 MiB pattern takes a while in a debug build.
        let frames = sizes.enumerated().map { index, size in Frame(type: 16 + UInt8(index), payload: patternBytes(count: size, seed: index)) }
        let echo = PeerThread<Void>.start {
            do {
                for _ in sizes { try server.writeFrame(try server.readFrame(deadline: Self.deadline(millis: 20_000))) }
            } catch {
                server.close()
                throw error
            }
        }
        for frame in frames {
            try client.writeFrame(frame)
            let back = try client.readFrame(deadline: Self.deadline(millis: 20_000))
            let isIntact = back == frame
            #expect(isIntact)
        }
        try echo.join()
    }

    @Test("concurrent senders on one TLS stream never interleave records: every frame arrives whole")
    func concurrentWriters() throws {
        let (client, server) = try connected()
        defer { client.close(); server.close() }
        let writers = (0..<4).map { writer in
            PeerThread<Void>.start {
                for index in 0..<40 {
                    // Straight to the stream, past FramedConnection's own write lock.
                    let frame = Frame(type: 16 + UInt8(writer), payload: patternBytes(count: 20_000 + index, seed: writer))
                    try client.stream.send(all: try Frame.encode([frame]))
                }
            }
        }
        var counts = [0, 0, 0, 0]
        for _ in 0..<(4 * 40) {
            let frame = try server.readFrame(deadline: Self.deadline(millis: 20_000))
            let writer = Int(frame.type) - 16
            try #require(writer >= 0 && writer < 4)
            let isIntact = frame.payload == patternBytes(count: 20_000 + counts[writer], seed: writer)
            #expect(isIntact)
            counts[writer] += 1
        }
        for writer in writers { try writer.join() }
        #expect(counts == [40, 40, 40, 40])
    }

    @Test("an unpinned server is refused by the client, and the server fails too")
    func refusesUnpinnedServer() throws {
        let outcome = try handshake(clientPins: [unknownFingerprint])
        defer { outcome.sockets.forEach { $0.close() } }
        #expect(throws: TLSError.peerNotPinned(presented: serverIdentity.fingerprint)) { _ = try outcome.client.get() }
        #expect(throws: TLSError.self) { _ = try outcome.server.get() }
    }

    @Test("a mutual-auth server refuses an unpinned client, which fails on its first read")
    func refusesUnpinnedClient() throws {
        let outcome = try handshake(serverVerifies: .pinned([unknownFingerprint]))
        defer { outcome.sockets.forEach { $0.close() } }
        #expect(throws: TLSError.peerNotPinned(presented: clientIdentity.fingerprint)) { _ = try outcome.server.get() }
        let client = FramedConnection(tls: try outcome.client.get())
        #expect(throws: TLSError.self) { _ = try client.readFrame(deadline: Self.deadline()) }
    }

    @Test("a plaintext client is refused by a TLS server, and a TLS client by a plaintext server")
    func refusesPlaintext() throws {
        let (dialer, acceptor) = try makeConnectedPair()
        defer { dialer.close(); acceptor.close() }
        let serverContext = serverContext
        let server = PeerThread<TLSStream>.start {
            try TLSStream.handshake(socket: acceptor, context: serverContext, verification: .anyCertificate, deadline: Self.deadline())
        }
        try FramedConnection(socket: dialer).writeFrame(Frame(type: 1, payload: Array("plaintext hello".utf8)))
        #expect { _ = try server.join() } throws: { error in
            if case .openSSL(operation: "handshake", _) = error as? TLSError { return true }
            return false
        }

        let (tlsDialer, plainAcceptor) = try makeConnectedPair()
        defer { tlsDialer.close(); plainAcceptor.close() }
        let plainServer = PeerThread<Void>.start {
            try FramedConnection(socket: plainAcceptor).writeFrame(Frame(type: 16, payload: Array("welcome, send your password".utf8)))
        }
        #expect(throws: TLSError.self) {
            _ = try TLSStream.handshake(
                socket: tlsDialer, context: clientContext, verification: .anyCertificate, deadline: Self.deadline())
        }
        try plainServer.join()
    }

    @Test("a silent server times the handshake out at its deadline")
    func handshakeDeadline() throws {
        let (dialer, acceptor) = try makeConnectedPair()
        defer { dialer.close(); acceptor.close() }
        let started = ContinuousClock.now
        #expect(throws: SocketError.timedOut(operation: "TLS handshake")) {
            _ = try TLSStream.handshake(socket: dialer, context: clientContext, verification: .anyCertificate, deadline: Self.deadline(millis: 300))
        }
        #expect(ContinuousClock.now - started < .seconds(3))
    }

    @Test("a stalled half record times a frame read out at its deadline")
    func readDeadline() throws {
        let outcome = try handshake()
        let client = try outcome.client.get()
        let server = FramedConnection(tls: try outcome.server.get())
        defer { client.close(); server.close() }
        // Three raw bytes of a record header, then nothing.
        try client.socket.send(all: [0x17, 0x03, 0x03])
        let started = ContinuousClock.now
        #expect(throws: SocketError.timedOut(operation: "receive")) { _ = try server.readFrame(deadline: Self.deadline(millis: 300)) }
        #expect(ContinuousClock.now - started < .seconds(3))
    }

    @Test("the end of the transport without close_notify is an error; after close_notify it is a clean close")
    func endOfStream() throws {
        let (client, server) = try connected()
        try client.writeFrame(Frame(type: 16, payload: [1, 2, 3]))
        client.socket.close()
        #expect(try server.readFrame(deadline: Self.deadline()).payload == [1, 2, 3])
        #expect(throws: TLSError.unexpectedEndOfStream) { _ = try server.readFrame(deadline: Self.deadline()) }
        server.close()

        let (polite, listener) = try connected()
        defer { listener.close() }
        try polite.writeFrame(Frame(type: 17, payload: [4]))
        polite.close()
        #expect(try listener.readFrame(deadline: Self.deadline()).payload == [4])
        #expect(throws: FrameError.closed) { _ = try listener.readFrame(deadline: Self.deadline()) }
    }
}
