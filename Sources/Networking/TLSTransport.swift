/// The TLS layer of an event-loop connection, without I/O: the loop hands it the bytes its
/// socket received and gets back the plaintext they carried; it hands it plaintext to send and
/// later takes the ciphertext to write. The handshake runs inside `receive` as ciphertext
/// arrives; plaintext sealed before it finished waits (at most `plaintextWhileHandshakingMax`
/// bytes) and is encrypted once it is done. Memory stays bounded: the session holds at most
/// its BIO buffers, and `receive` decrypts everything fed before returning.
///
/// Not thread-safe: one loop owns it, like the connection it belongs to.
public final class TLSTransport {
    /// What one `receive` produced.
    public struct Received: Equatable, Sendable {
        /// Decrypted application bytes (possibly none).
        public var plaintext: [UInt8]
        /// The peer ended the stream with close_notify.
        public var isClosed: Bool
    }

    /// Plaintext that may wait for the handshake (a greeting, not a stream of replies).
    public static let plaintextWhileHandshakingMax = 4 * 1024

    private let session: TLSSession
    private var outgoing: [UInt8] = []
    private var waitingPlaintext: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: TLSLimits.receiveChunkBytes)
    /// Whether the handshake finished; from then on plaintext flows both ways.
    public private(set) var isEstablished = false
    /// The certificate fingerprint the peer presented, once established (nil: none).
    public private(set) var peerFingerprint: CertificateFingerprint?

    /// Wraps a fresh session (server or client side); a client's first flight is ready in
    /// `takeOutgoing` at once.
    public init(session: TLSSession) {
        self.session = session
        if session.side == .client { advance() }
    }

    /// Ciphertext waiting for the socket (taken: the caller now owns it).
    public func takeOutgoing() -> [UInt8] {
        collect()
        defer { outgoing.removeAll(keepingCapacity: true) }
        return outgoing
    }

    /// Takes ciphertext the socket received; returns the plaintext it completes. Throws the
    /// session's failure (bad record, failed handshake, pin mismatch); take the outgoing
    /// ciphertext (an alert) before closing.
    public func receive(_ ciphertext: ArraySlice<UInt8>) throws(TLSError) -> Received {
        var received = Received(plaintext: [], isClosed: false)
        var offset = ciphertext.startIndex
        // Bounded: each pass feeds at least one byte, or decrypts, or leaves.
        for _ in 0...(ciphertext.count + 2) {
            let fed = offset < ciphertext.endIndex ? try session.feed(ciphertext[offset...]) : 0
            offset += fed
            if !isEstablished { try handshake() }
            let decrypted = isEstablished ? try drain(into: &received) : 0
            if offset == ciphertext.endIndex || received.isClosed { break }
            if fed == 0 && decrypted == 0 { throw .openSSL(operation: "receive", reason: "ciphertext not accepted") }
        }
        collect()
        return received
    }

    /// Tells the session the socket reached its end (a 0-byte read).
    public func receiveEndOfStream() { session.feedEndOfStream() }

    /// Encrypts plaintext for the peer; before the handshake is done it waits, within
    /// `plaintextWhileHandshakingMax`.
    public func seal(_ plaintext: [UInt8]) throws(TLSError) {
        guard !plaintext.isEmpty else { return }
        guard isEstablished else {
            guard waitingPlaintext.count + plaintext.count <= Self.plaintextWhileHandshakingMax else {
                throw .invalidConfiguration("\(waitingPlaintext.count + plaintext.count) bytes sealed before the handshake finished")
            }
            waitingPlaintext.append(contentsOf: plaintext)
            return
        }
        var written = 0
        // Bounded: each pass encrypts at least one byte (the outgoing BIO is emptied every time).
        for _ in 0...(plaintext.count + 1) where written < plaintext.count {
            let result = plaintext[written...].withUnsafeBytes { raw in Result { () throws(TLSError) in try session.write(plaintext: raw) } }
            let count = try result.get()
            collect()
            guard count > 0 else { throw .openSSL(operation: "seal", reason: "plaintext not accepted") }
            written += count
        }
    }

    /// Sends close_notify (take the outgoing ciphertext afterwards).
    public func close() {
        session.close()
        collect()
    }

    private func handshake() throws(TLSError) {
        switch advance() {
        case .failed(let error): throw error
        case .done(let fingerprint):
            isEstablished = true
            peerFingerprint = fingerprint
            let waiting = waitingPlaintext
            waitingPlaintext = []
            try seal(waiting)
        case .inProgress: break
        }
    }

    @discardableResult
    private func advance() -> TLSHandshakeState {
        let state = session.advanceHandshake()
        collect()
        return state
    }

    /// Decrypts everything buffered; returns the bytes decrypted.
    private func drain(into received: inout Received) throws(TLSError) -> Int {
        var total = 0
        // Bounded: each pass decrypts at least one byte of what was fed (at most a BIO's worth), or leaves.
        for _ in 0...TLSLimits.bioBufferBytes {
            let outcome = chunk.withUnsafeMutableBytes { raw in Result { () throws(TLSError) in try session.read(into: raw) } }
            switch try outcome.get() {
            case .bytes(let count):
                received.plaintext.append(contentsOf: chunk[0..<count])
                total += count
            case .needsCiphertext:
                collect()
                return total
            case .closed:
                received.isClosed = true
                collect()
                return total
            }
        }
        collect()
        return total
    }

    private func collect() {
        while session.pendingCiphertextByteCount > 0 {
            let taken = session.takeCiphertext()
            if taken.isEmpty { return }
            outgoing.append(contentsOf: taken)
        }
    }
}
