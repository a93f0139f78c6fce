/// Every limit the TLS layer enforces, in one place. Units come last in each name.
public enum TLSLimits {
    /// Bytes each direction of a session's BIO pair holds: ciphertext fed in but not yet
    /// decrypted, and ciphertext made but not yet taken. `feed` and `write` accept only what
    /// fits, so a session never buffers more than twice this (plus OpenSSL's one-record buffers).
    public static let bioBufferBytes = 64 * 1024
    /// Most bytes a `TLSStream` asks of its socket per receive.
    public static let receiveChunkBytes = 32 * 1024
    /// Most handshake steps (each consumes at least one received byte or ends the handshake)
    /// before a handshake is abandoned; the deadline usually ends a slow one first.
    public static let handshakeStepsMax = 1_024
    /// Most bytes of certificate chain accepted from a peer (our certificates are ~350 bytes).
    public static let certificateChainBytesMax = 16 * 1024
    /// Largest `tls-key.pem` or `tls-cert.pem` that is read.
    public static let identityFileBytesMax = 64 * 1024
    /// Validity of a self-signed certificate: 100 years. Pins, not dates, decide trust, so
    /// expiry is never checked; the dates only keep other tools from calling the file expired.
    public static let certificateValidityDays: Int32 = 36_500
    /// Longest subject common name (the X.509 upper bound for CN).
    public static let commonNameBytesMax = 64
    /// Most OpenSSL queued errors read after one failure (the queue is drained either way).
    public static let queuedErrorsMax = 16

    /// Traps unless the limits are consistent; called by tests and cheap enough for executables.
    public static func validate() {
        precondition(bioBufferBytes >= 1024 && receiveChunkBytes > 0, "TLS buffers must be positive")
        precondition(receiveChunkBytes <= bioBufferBytes, "one receive must fit an empty BIO pair")
        precondition(handshakeStepsMax > 0 && certificateChainBytesMax >= 1024, "handshake limits must be positive")
        precondition(identityFileBytesMax >= 4096 && commonNameBytesMax > 0, "identity limits must be positive")
        precondition(certificateValidityDays > 0 && queuedErrorsMax > 0, "validity and error limits must be positive")
    }
}
