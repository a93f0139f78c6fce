import Hashing

extension HandshakeAuthenticator {
    /// The handshake's cryptography from libcrypto, the one every real end uses (trackers,
    /// tracker clients, piece peers): HMAC-SHA256, nonces from the secure random generator,
    /// comparison in constant time. A process whose secure random generator fails stops here
    /// rather than send a predictable nonce (no remote input reaches this failure).
    public static let libcrypto = HandshakeAuthenticator(
        mac: { key, message in HMACSHA256.authenticate(key: key, message: message) },
        randomBytes: { count in
            guard let bytes = try? SecureRandom.bytes(count: count) else { fatalError("no secure random bytes for a handshake nonce") }
            return bytes
        },
        isEqual: { ConstantTime.isEqual($0, $1) })
}
