import CLibSSL
import Hashing

/// The identity of a TLS peer: the SHA-256 of its DER-encoded certificate, written
/// `sha256:<64 lowercase hex digits>` (in cluster.conf, logs and `--print-fingerprint`).
///
/// Peers are trusted by this value alone (as Syncthing trusts device ids): no certificate
/// authority, names or dates are consulted.
public struct CertificateFingerprint: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The text before the hex digits.
    public static let prefix = "sha256:"
    /// Bytes in the digest.
    public static let digestBytes = 32

    /// The 32-byte SHA-256 digest.
    public let digest: [UInt8]

    /// Wraps a digest; nil unless it is exactly `digestBytes` long.
    public init?(digest: [UInt8]) {
        guard digest.count == Self.digestBytes else { return nil }
        self.digest = digest
    }

    /// The fingerprint of a DER-encoded certificate.
    public init(certificateDER: [UInt8]) {
        digest = SHA256.hash(certificateDER)
    }

    /// The fingerprint of an OpenSSL `X509` (hashes its DER encoding); nil if OpenSSL fails.
    init?(certificate: OpaquePointer) {
        var bytes = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        OpenSSLErrorQueue.clear()
        guard X509_digest(certificate, EVP_sha256(), &bytes, &length) == 1,
              Int(length) == Self.digestBytes else {
            OpenSSLErrorQueue.clear()
            return nil
        }
        digest = Array(bytes.prefix(Self.digestBytes))
    }

    /// Parses `sha256:` followed by exactly 64 hex digits (either case; stored lowercase).
    public static func parse(_ text: some StringProtocol) throws(FingerprintError) -> CertificateFingerprint {
        guard text.hasPrefix(prefix) else {
            throw FingerprintError(reason: "expected '\(prefix)<\(2 * digestBytes) hex digits>'")
        }
        let hex = text.dropFirst(prefix.count)
        guard hex.utf8.count == 2 * digestBytes else {
            throw FingerprintError(reason: "expected \(2 * digestBytes) hex digits after '\(prefix)', found \(hex.utf8.count)")
        }
        guard let digest = Hex.decode(String(hex)), let fingerprint = CertificateFingerprint(digest: digest) else {
            throw FingerprintError(reason: "not a hex digit after '\(prefix)'")
        }
        return fingerprint
    }

    /// `sha256:<64 lowercase hex digits>`.
    public var description: String { Self.prefix + Hex.encode(digest) }

    /// Orders by digest bytes, so sorted lists of fingerprints are stable.
    public static func < (left: CertificateFingerprint, right: CertificateFingerprint) -> Bool {
        left.digest.lexicographicallyPrecedes(right.digest)
    }
}

/// Why a fingerprint's text was refused.
public struct FingerprintError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What is wrong, e.g. "expected 64 hex digits after 'sha256:', found 3".
    public var reason: String

    /// Makes an error.
    public init(reason: String) { self.reason = reason }

    /// The reason.
    public var description: String { reason }
}
