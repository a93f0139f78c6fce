import CLibSSL

/// One TLS 1.3 connection as a pure engine over two OpenSSL memory buffers (a BIO pair): it
/// never touches a socket, so a blocking adapter (`TLSStream`), an event loop or a test can
/// drive it alike.
///
/// The caller moves ciphertext: whatever arrives from the peer goes in through `feed`, and
/// after every call whatever `takeCiphertext` yields goes out to the peer. Each direction holds
/// at most `bufferBytes`; `feed` and `write` accept only what fits (possibly 0), so memory stays
/// bounded whatever the peer sends. Any OpenSSL failure becomes a thrown `TLSError` (or
/// `.failed`), never a trap; after one, the session stays failed.
///
/// Not thread-safe: use it from one thread at a time (`TLSStream` guards it with a mutex).
public final class TLSSession {
    /// Which end of the handshake this session plays.
    public let side: TLSContext.Side
    private let context: TLSContext
    private let ssl: OpaquePointer
    private let network: OpaquePointer
    private let check: PeerCertificateCheck
    private var failure: TLSError?
    private var isHandshakeDone = false
    private var lastWantedRead = true
    private var peerFingerprint: CertificateFingerprint?
    private var hasEndOfStream = false
    private var hasPeerClosed = false
    private var isClosed = false

    /// Makes a session that will verify its peer as `verification` says. Clients must verify
    /// the server: `.pinned` or `.anyCertificate`. `bufferBytes` bounds each direction.
    public init(
        context: TLSContext, verification: PeerVerification, bufferBytes: Int = TLSLimits.bioBufferBytes
    ) throws(TLSError) {
        try Self.validate(side: context.side, verification: verification, bufferBytes: bufferBytes)
        OpenSSLErrorQueue.clear()
        guard let ssl = SSL_new(context.context) else { throw .openSSL(operation: "session", reason: OpenSSLErrorQueue.takeText()) }
        var inner: OpaquePointer?
        var outer: OpaquePointer?
        guard BIO_new_bio_pair(&inner, bufferBytes, &outer, bufferBytes) == 1, let inner, let outer else {
            SSL_free(ssl)
            throw .openSSL(operation: "session", reason: OpenSSLErrorQueue.takeText())
        }
        SSL_set_bio(ssl, inner, inner)
        self.ssl = ssl
        self.network = outer
        self.context = context
        self.side = context.side
        self.check = PeerCertificateCheck(verification: verification)
        _ = SSL_set_ex_data(ssl, 0, Unmanaged.passUnretained(check).toOpaque())
        SSL_set_verify(ssl, Self.verifyMode(side: side, verification: verification), nil)
        if side == .client { SSL_set_connect_state(ssl) } else { SSL_set_accept_state(ssl) }
    }

    deinit {
        SSL_free(ssl)
        BIO_free(network)
    }

    private static func validate(side: TLSContext.Side, verification: PeerVerification, bufferBytes: Int) throws(TLSError) {
        guard bufferBytes >= 1024, bufferBytes <= 16 * 1024 * 1024 else {
            throw .invalidConfiguration("buffer of \(bufferBytes) bytes outside 1 KiB...16 MiB")
        }
        if case .pinned(let allowed) = verification, allowed.isEmpty { throw .invalidConfiguration("no fingerprints pinned") }
        if side == .client, verification == .optionalCertificate || verification == .noCertificate {
            throw .invalidConfiguration("a client must verify the server's certificate")
        }
    }

    private static func verifyMode(side: TLSContext.Side, verification: PeerVerification) -> Int32 {
        switch verification {
        case .noCertificate: return SSL_VERIFY_NONE
        case .optionalCertificate: return SSL_VERIFY_PEER
        case .pinned, .anyCertificate:
            return side == .client ? SSL_VERIFY_PEER : SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
        }
    }

    // MARK: Ciphertext in and out

    /// Hands the session ciphertext received from the peer; returns how many bytes it took
    /// (fewer than offered, even 0, when its buffer is full: read first, then offer the rest).
    /// Bytes after `feedEndOfStream` throw `.sessionClosed`.
    public func feed(ciphertext: UnsafeRawBufferPointer) throws(TLSError) -> Int {
        guard let base = ciphertext.baseAddress, !ciphertext.isEmpty else { return 0 }
        guard !hasEndOfStream else { throw .sessionClosed }
        let count = min(ciphertext.count, BIO_ctrl_get_write_guarantee(network), Int(Int32.max))
        guard count > 0 else { return 0 }
        return max(0, Int(BIO_write(network, base, Int32(count))))
    }

    /// `feed(ciphertext:)` for an array slice.
    public func feed(_ ciphertext: ArraySlice<UInt8>) throws(TLSError) -> Int {
        let result = ciphertext.withUnsafeBytes { raw in Result { () throws(TLSError) in try feed(ciphertext: raw) } }
        return try result.get()
    }

    /// Tells the session the transport ended (a 0-byte read). Unless the peer's close_notify
    /// came first, the next read or handshake step fails with `.unexpectedEndOfStream`.
    public func feedEndOfStream() {
        guard !hasEndOfStream else { return }
        hasEndOfStream = true
        _ = clibssl_bio_shutdown_wr(network)
    }

    /// Ciphertext waiting to be sent to the peer.
    public var pendingCiphertextByteCount: Int { BIO_ctrl_pending(network) }

    /// Whether `read` may produce plaintext without more ciphertext being fed.
    public var hasBufferedInput: Bool {
        SSL_has_pending(ssl) == 1 || BIO_ctrl_pending(SSL_get_rbio(ssl)) > 0
    }

    /// Moves up to `buffer.count` waiting ciphertext bytes into `buffer`; returns how many.
    public func takeCiphertext(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let count = min(buffer.count, pendingCiphertextByteCount, Int(Int32.max))
        guard let base = buffer.baseAddress, count > 0 else { return 0 }
        return max(0, Int(BIO_read(network, base, Int32(count))))
    }

    /// All waiting ciphertext (at most `bufferBytes`), to send to the peer.
    public func takeCiphertext() -> [UInt8] {
        let pending = pendingCiphertextByteCount
        guard pending > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: pending) { buffer, count in
            count = takeCiphertext(into: UnsafeMutableRawBufferPointer(buffer))
        }
    }

    // MARK: Handshake

    /// How the handshake stands (does not advance it).
    public var handshakeState: TLSHandshakeState {
        if let failure { return .failed(failure) }
        if isHandshakeDone { return .done(peerFingerprint: peerFingerprint) }
        return .inProgress(wantsRead: lastWantedRead, wantsWrite: pendingCiphertextByteCount > 0)
    }

    /// Runs the handshake as far as the fed ciphertext allows and returns its state. Call it
    /// after each feed until `.done` or `.failed`, sending `takeCiphertext` each time.
    @discardableResult
    public func advanceHandshake() -> TLSHandshakeState {
        guard failure == nil, !isHandshakeDone else { return handshakeState }
        OpenSSLErrorQueue.clear()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            finishHandshake()
        } else {
            switch classify(result, operation: "handshake") {
            case .wantsRead: lastWantedRead = true
            case .wantsWrite: lastWantedRead = false
            case .peerClosed: failure = .sessionClosed
            case .failed(let error): failure = error
            }
        }
        return handshakeState
    }

    private func finishHandshake() {
        let presented = SSL_get0_peer_certificate(ssl).flatMap { CertificateFingerprint(certificate: $0) }
        // Belt and braces behind the callback: what was presented must satisfy the policy.
        switch check.verification {
        case .pinned(let allowed):
            guard let presented else { failure = .peerCertificateMissing; return }
            guard allowed.contains(presented) else { failure = .peerNotPinned(presented: presented); return }
        case .anyCertificate:
            guard presented != nil else { failure = .peerCertificateMissing; return }
        case .optionalCertificate, .noCertificate:
            break
        }
        peerFingerprint = presented
        isHandshakeDone = true
    }

    /// The negotiated suite, e.g. "TLS_AES_128_GCM_SHA256", once the handshake is done.
    public var cipherSuite: String? {
        guard isHandshakeDone, let cipher = SSL_get_current_cipher(ssl), let name = SSL_CIPHER_get_name(cipher) else { return nil }
        return String(cString: name)
    }

    /// The negotiated protocol, "TLSv1.3", once the handshake is done.
    public var protocolVersion: String? {
        guard isHandshakeDone, let version = SSL_get_version(ssl) else { return nil }
        return String(cString: version)
    }

    // MARK: Plaintext in and out

    /// Encrypts plaintext for the peer; returns how many bytes were taken (0 when the outgoing
    /// buffer is full: take the ciphertext, then call again with the same remaining bytes).
    public func write(plaintext: UnsafeRawBufferPointer) throws(TLSError) -> Int {
        if let failure { throw failure }
        guard isHandshakeDone else { throw .handshakeIncomplete }
        guard !isClosed else { throw .sessionClosed }
        guard let base = plaintext.baseAddress, !plaintext.isEmpty else { return 0 }
        var written = 0
        OpenSSLErrorQueue.clear()
        let result = SSL_write_ex(ssl, base, plaintext.count, &written)
        if result == 1 { return written }
        switch classify(result, operation: "write") {
        case .wantsRead, .wantsWrite: return 0
        case .peerClosed: failure = .sessionClosed
        case .failed(let error): failure = error
        }
        throw failure ?? .sessionClosed
    }

    /// Decrypts as much buffered ciphertext as fits into `buffer` (possibly several records).
    /// An empty buffer gives `.bytes(0)`. Throws the session's failure, e.g. a bad record or
    /// `.unexpectedEndOfStream`.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(TLSError) -> TLSReadResult {
        if let failure { throw failure }
        guard isHandshakeDone else { throw .handshakeIncomplete }
        if hasPeerClosed { return .closed }
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return .bytes(0) }
        var total = 0
        // Each pass adds at least one byte or leaves, so at most buffer.count passes.
        reading: while total < buffer.count {
            var count = 0
            OpenSSLErrorQueue.clear()
            let result = SSL_read_ex(ssl, base + total, buffer.count - total, &count)
            if result == 1, count > 0 {
                total += count
                continue
            }
            switch classify(result, operation: "read") {
            case .wantsRead, .wantsWrite: break reading
            case .peerClosed: hasPeerClosed = true
            case .failed(let error): failure = error
            }
            break reading
        }
        if total > 0 { return .bytes(total) }
        if let failure { throw failure }
        return hasPeerClosed ? .closed : .needsCiphertext
    }

    /// Sends close_notify (take the ciphertext afterwards); later writes throw `.sessionClosed`.
    /// Reading what the peer still sends stays possible. Calling it again does nothing.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        guard isHandshakeDone, failure == nil else { return }
        OpenSSLErrorQueue.clear()
        _ = SSL_shutdown(ssl)
        OpenSSLErrorQueue.clear()
    }

    // MARK: Errors

    private enum Step {
        case wantsRead, wantsWrite, peerClosed
        case failed(TLSError)
    }

    private func classify(_ result: Int32, operation: String) -> Step {
        let code = SSL_get_error(ssl, result)
        switch code {
        case SSL_ERROR_WANT_READ: return .wantsRead
        case SSL_ERROR_WANT_WRITE: return .wantsWrite
        case SSL_ERROR_ZERO_RETURN: return .peerClosed
        default: break
        }
        let queued = OpenSSLErrorQueue.take()
        if check.wasRejected, let presented = check.presented { return .failed(.peerNotPinned(presented: presented)) }
        if queued?.reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE { return .failed(.peerCertificateMissing) }
        if hasEndOfStream, queued == nil || queued?.reason == SSL_R_UNEXPECTED_EOF_WHILE_READING {
            return .failed(.unexpectedEndOfStream)
        }
        return .failed(.openSSL(operation: operation, reason: queued?.text ?? "SSL error \(code)"))
    }
}
