import CLibSSL

/// What a TLS session requires of the certificate its peer presents.
///
/// Trust is by pinned fingerprint only: certificates are self-signed, and no authority, name
/// or date is checked. `anyCertificate` still proves the peer holds the key of the certificate
/// it showed (TLS 1.3 CertificateVerify); the caller then decides by `peerFingerprint`.
public enum PeerVerification: Sendable, Equatable {
    /// The peer must present a certificate whose fingerprint is one of these (tracker to
    /// tracker, client to tracker, downloader to sharer).
    case pinned(Set<CertificateFingerprint>)
    /// The peer must present a certificate; any is accepted and its fingerprint reported, for
    /// a check against records the caller keeps (the peer server against the tracker's).
    case anyCertificate
    /// Servers only: a client certificate is asked for; any is accepted and reported, and a
    /// client without one is accepted too (one port serving trackers and clients).
    case optionalCertificate
    /// Servers only: no client certificate is asked for.
    case noCertificate
}

/// How a session's handshake stands.
public enum TLSHandshakeState: Equatable, Sendable {
    /// Not finished: `wantsRead` when it needs more ciphertext from the peer, `wantsWrite`
    /// when ciphertext is waiting in `takeCiphertext`.
    case inProgress(wantsRead: Bool, wantsWrite: Bool)
    /// Finished; the peer's certificate fingerprint (nil only on a server that did not require one
    /// and got none).
    case done(peerFingerprint: CertificateFingerprint?)
    /// Failed; take the remaining ciphertext (the alert) and close the transport.
    case failed(TLSError)
}

/// What one `TLSSession.read` produced.
public enum TLSReadResult: Equatable, Sendable {
    /// This many plaintext bytes were placed at the start of the buffer (at least 1).
    case bytes(Int)
    /// No plaintext is available until more ciphertext is fed.
    case needsCiphertext
    /// The peer ended the stream with close_notify.
    case closed
}

/// Settings shared by many sessions: one side, one identity, TLS 1.3 only, the cipher order,
/// no resumption (no session cache, no tickets). Immutable; safe to share between threads.
public final class TLSContext: @unchecked Sendable {
    // @unchecked: the SSL_CTX is configured completely in init and never changed afterwards;
    // OpenSSL allows SSL_new on one context from several threads.

    /// Which end of the handshake sessions of this context play.
    public enum Side: Sendable, Equatable {
        /// Starts the handshake (connects).
        case client
        /// Answers it (accepts).
        case server
    }

    /// TLS 1.3 suites in preference order (the server's order wins). AES-128-GCM first: with
    /// AES-NI it is the fastest here (`openssl speed -evp`, 16 KiB blocks: AES-128-GCM 3.9 GB/s,
    /// ChaCha20-Poly1305 2.5 GB/s, AES-256-GCM 2.4 GB/s); ChaCha20 next for CPUs without it.
    public static let preferredCipherSuites = "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384"

    let context: OpaquePointer
    /// Which end sessions of this context play.
    public let side: Side
    /// The certificate and key presented to peers (a server always has one).
    public let identity: TLSIdentity?

    /// Makes a context. A server needs an identity; a client without one cannot talk to
    /// servers that require client certificates. `cipherSuites` is an OpenSSL TLS 1.3 list.
    public init(side: Side, identity: TLSIdentity?, cipherSuites: String = preferredCipherSuites) throws(TLSError) {
        if side == .server, identity == nil { throw .invalidConfiguration("a server needs an identity") }
        OpenSSLErrorQueue.clear()
        guard let context = SSL_CTX_new(TLS_method()) else {
            throw .openSSL(operation: "context", reason: OpenSSLErrorQueue.takeText())
        }
        self.context = context
        self.side = side
        self.identity = identity
        try configure(cipherSuites: cipherSuites)
    }

    deinit { SSL_CTX_free(context) }

    private func configure(cipherSuites: String) throws(TLSError) {
        guard clibssl_ctx_set_protocol_range(context, TLS1_3_VERSION, TLS1_3_VERSION) == 1,
              SSL_CTX_set_ciphersuites(context, cipherSuites) == 1,
              SSL_CTX_set_num_tickets(context, 0) == 1
        else { throw .openSSL(operation: "context", reason: OpenSSLErrorQueue.takeText()) }
        clibssl_ctx_set_write_modes(context)
        clibssl_ctx_disable_resumption(context)
        clibssl_ctx_set_max_cert_list(context, TLSLimits.certificateChainBytesMax)
        SSL_CTX_set_cert_verify_callback(context, verifyPeerCertificate, nil)
        if let identity {
            guard SSL_CTX_use_certificate(context, identity.certificate) == 1,
                  SSL_CTX_use_PrivateKey(context, identity.key) == 1,
                  SSL_CTX_check_private_key(context) == 1
            else { throw .openSSL(operation: "identity", reason: OpenSSLErrorQueue.takeText()) }
        }
    }
}

/// Per-session state of the certificate check, reached by the callback through the SSL's
/// ex_data slot 0 (the "app data" slot; nothing else here uses it).
final class PeerCertificateCheck {
    let verification: PeerVerification
    /// The fingerprint of the leaf the peer presented, once seen.
    var presented: CertificateFingerprint?
    /// Whether the callback refused the presented certificate.
    var wasRejected = false

    init(verification: PeerVerification) { self.verification = verification }

    /// Whether `fingerprint` satisfies the verification.
    func accepts(_ fingerprint: CertificateFingerprint) -> Bool {
        if case .pinned(let allowed) = verification { return allowed.contains(fingerprint) }
        return true
    }
}

/// Replaces OpenSSL's chain verification: accepts the peer's leaf certificate exactly when
/// its SHA-256 passes the session's `PeerVerification`, records what it saw, and refuses
/// (failing the handshake with an alert) otherwise.
private func verifyPeerCertificate(_ store: OpaquePointer?, _ argument: UnsafeMutableRawPointer?) -> Int32 {
    guard let store,
          let ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()),
          let slot = SSL_get_ex_data(OpaquePointer(ssl), 0)
    else { return 0 }
    let check = Unmanaged<PeerCertificateCheck>.fromOpaque(slot).takeUnretainedValue()
    guard let leaf = X509_STORE_CTX_get0_cert(store), let fingerprint = CertificateFingerprint(certificate: leaf) else {
        X509_STORE_CTX_set_error(store, X509_V_ERR_UNSPECIFIED)
        return 0
    }
    check.presented = fingerprint
    guard check.accepts(fingerprint) else {
        check.wasRejected = true
        X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED)
        return 0
    }
    return 1
}
