import CLibSSL

/// Why a TLS session failed. After any of these (except `handshakeIncomplete`) the session is
/// unusable: take its last ciphertext (an alert, if any) and close the transport.
public enum TLSError: Error, Equatable, Sendable, CustomStringConvertible {
    /// OpenSSL refused an operation: what was asked and OpenSSL's reason, e.g.
    /// `handshake: wrong version number` for a plaintext peer.
    case openSSL(operation: String, reason: String)
    /// The peer's certificate is not one of the pinned fingerprints.
    case peerNotPinned(presented: CertificateFingerprint)
    /// The peer presented no certificate where one is required.
    case peerCertificateMissing
    /// The transport ended without the peer's close_notify: a truncation, or the peer died.
    case unexpectedEndOfStream
    /// The session was closed (`close()`) or the peer ended it with close_notify.
    case sessionClosed
    /// Application data was read or written before the handshake finished.
    case handshakeIncomplete
    /// The session cannot be set up as asked, e.g. a server without an identity.
    case invalidConfiguration(String)

    /// One line, e.g. `TLS peer certificate sha256:ab… is not pinned`.
    public var description: String {
        switch self {
        case .openSSL(let operation, let reason): return "TLS \(operation) failed: \(reason)"
        case .peerNotPinned(let presented): return "TLS peer certificate \(presented) is not pinned"
        case .peerCertificateMissing: return "TLS peer presented no certificate"
        case .unexpectedEndOfStream: return "TLS connection ended without close_notify"
        case .sessionClosed: return "TLS session is closed"
        case .handshakeIncomplete: return "TLS handshake has not finished"
        case .invalidConfiguration(let reason): return "TLS configuration: \(reason)"
        }
    }
}

/// One error taken from OpenSSL's thread-local queue.
struct OpenSSLQueuedError {
    /// The packed error code (`ERR_GET_REASON` extracts the reason).
    var code: UInt
    /// The reason text, e.g. "certificate verify failed".
    var text: String

    /// The library-specific reason number, e.g. `SSL_R_WRONG_VERSION_NUMBER`.
    var reason: Int32 { ERR_GET_REASON(code) }
}

/// Helpers over OpenSSL's thread-local error queue. Every fallible call is preceded by
/// `clear()` so that a failure reads only its own errors.
enum OpenSSLErrorQueue {
    /// Empties the queue.
    static func clear() { ERR_clear_error() }

    /// Drains the queue and returns the earliest error (the root cause), or nil when empty.
    static func take() -> OpenSSLQueuedError? {
        var first: UInt = 0
        for _ in 0..<TLSLimits.queuedErrorsMax {
            let code = ERR_get_error()
            if code == 0 { break }
            if first == 0 { first = code }
        }
        clear()
        guard first != 0 else { return nil }
        return OpenSSLQueuedError(code: first, text: text(of: first))
    }

    /// The queue's earliest reason as text, or `fallback` when the queue is empty.
    static func takeText(fallback: String = "no OpenSSL error queued") -> String {
        take()?.text ?? fallback
    }

    private static func text(of code: UInt) -> String {
        if let reason = ERR_reason_error_string(code) { return String(cString: reason) }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
