import Networking
import Testing

/// What one side of a loopback connection received: the raw bytes as the socket carried them,
/// and the plaintext a TLS engine made of them.
struct Capture: Sendable {
    var wire: [UInt8] = []
    var plaintext: [UInt8] = []
    /// Why the engine stopped early, if it did (the wire is still checked).
    var failure: String?
}

/// Serves a TLS handshake and reads `expectedBytes` of plaintext with a bare `TLSSession` over
/// a raw socket, keeping every byte the socket delivered before it was decrypted.
func serveRecording(socket: Socket, session: TLSSession, expectedBytes: Int) -> Capture {
    var capture = Capture()
    do {
        try serve(socket: socket, session: session, expectedBytes: expectedBytes, capture: &capture)
    } catch {
        capture.failure = "\(error)"
    }
    return capture
}

private func serve(socket: Socket, session: TLSSession, expectedBytes: Int, capture: inout Capture) throws {
    var chunk = [UInt8](repeating: 0, count: 32 * 1024)
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    var unfed = ArraySlice<UInt8>()
    // Each pass receives, feeds or decrypts something; the bound only guards against a hang.
    for _ in 0..<1_000_000 where capture.plaintext.count < expectedBytes {
        session.advanceHandshake()
        let out = session.takeCiphertext()
        if !out.isEmpty { try socket.send(all: out) }
        if case .failed(let error) = session.handshakeState { throw error }
        if case .done = session.handshakeState {
            while case .bytes(let count) = try buffer.withUnsafeMutableBytes({ try session.read(into: $0) }) {
                capture.plaintext += buffer[0..<count]
            }
        }
        if capture.plaintext.count >= expectedBytes { break }
        if unfed.isEmpty {
            let count = try socket.receive(into: &chunk)
            guard count > 0 else { break }
            capture.wire += chunk[0..<count]
            unfed = Array(chunk[0..<count])[...]
        }
        unfed = unfed.dropFirst(try session.feed(unfed))
    }
}

@Suite("what TLS puts on the wire", .serialized)
struct TLSCaptureTests {
    static let marker = Array("create_user alice MARKER-s3cret-PASSWORD".utf8)

    /// Frames whose payloads are full of the marker, as login requests and file pieces would be.
    static let frames: [Frame] = (0..<40).map { index in
        let filler = (0..<(index * 100)).flatMap { _ in marker }
        return Frame(type: 16, payload: marker + filler)
    }

    static var wireBytes: Int { frames.reduce(0) { $0 + Frame.headerBytes + $1.payload.count } }

    @Test("bytes the socket carried over TLS never contain the plaintext marker, yet decrypt to it")
    func tlsHidesPlaintext() throws {
        let server = try makeIdentity("server")
        let client = try makeIdentity("client")
        let serverContext = try TLSContext(side: .server, identity: server)
        let clientFingerprint = client.fingerprint
        let (dialer, acceptor) = try makeConnectedPair()
        defer { dialer.close(); acceptor.close() }
        let expected = Self.wireBytes
        let recorder = PeerThread<Capture>.start {
            let session = try TLSSession(context: serverContext, verification: .pinned([clientFingerprint]))
            return serveRecording(socket: acceptor, session: session, expectedBytes: expected)
        }
        let stream = try TLSStream.handshake(
            socket: dialer, context: TLSContext(side: .client, identity: client),
            verification: .pinned([server.fingerprint]), deadline: .now + .seconds(5))
        try FramedConnection(tls: stream).writeFrames(Self.frames)
        let capture = try recorder.join()
        // Bools, not the arrays: a failing #expect would render every captured byte.
        let wireShowsMarker = contains(capture.wire, marker: Self.marker)
        let wireShowsWord = contains(capture.wire, marker: Array("MARKER".utf8))
        let plaintextShowsMarker = contains(capture.plaintext, marker: Self.marker)
        #expect(!wireShowsMarker && !wireShowsWord)
        #expect(capture.failure == nil)
        #expect(capture.plaintext.count == expected)
        #expect(plaintextShowsMarker)
        #expect(capture.wire.count > expected)
    }

    @Test("control: the same frames over a plaintext socket do show the marker")
    func plaintextShowsMarker() throws {
        let (dialer, acceptor) = try makeConnectedPair()
        defer { dialer.close(); acceptor.close() }
        let expected = Self.wireBytes
        let recorder = PeerThread<[UInt8]>.start {
            var wire: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 32 * 1024)
            while wire.count < expected {
                let count = try acceptor.receive(into: &chunk)
                if count == 0 { break }
                wire += chunk[0..<count]
            }
            return wire
        }
        try FramedConnection(socket: dialer).writeFrames(Self.frames)
        let wireShowsMarker = contains(try recorder.join(), marker: Self.marker)
        #expect(wireShowsMarker)
    }
}
