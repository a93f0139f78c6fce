import CLibSSL

/// A TLS identity: an Ed25519 private key and a self-signed X.509 certificate for it, and the
/// certificate's fingerprint by which peers pin it.
///
/// Ed25519 rather than ECDSA P-256: OpenSSL 3 signs TLS 1.3 handshakes with it natively, it has
/// no per-signature randomness to get wrong, and both ends of every link are this program.
/// Immutable after creation.
public final class TLSIdentity: @unchecked Sendable {
    // @unchecked: the EVP_PKEY and X509 are never modified after init; OpenSSL allows them
    // to be used read-only from several threads (contexts take their own references).

    /// The private key file's name inside the identity directory (mode 0600).
    public static let keyFileName = "tls-key.pem"
    /// The certificate file's name inside the identity directory.
    public static let certificateFileName = "tls-cert.pem"

    let key: OpaquePointer
    let certificate: OpaquePointer
    /// The certificate in DER form (what the fingerprint hashes).
    public let certificateDER: [UInt8]
    /// `sha256:<hex>` of `certificateDER`.
    public let fingerprint: CertificateFingerprint

    /// Takes ownership of one reference to each of `key` and `certificate`.
    init(key: OpaquePointer, certificate: OpaquePointer) throws(TLSIdentityError) {
        self.key = key
        self.certificate = certificate
        let length = i2d_X509(certificate, nil)
        guard length > 0 else {
            EVP_PKEY_free(key)
            X509_free(certificate)
            throw TLSIdentityError(reason: "cannot encode certificate: \(OpenSSLErrorQueue.takeText())")
        }
        var der = [UInt8](repeating: 0, count: Int(length))
        der.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            _ = i2d_X509(certificate, &cursor)
        }
        certificateDER = der
        fingerprint = CertificateFingerprint(certificateDER: der)
    }

    deinit {
        EVP_PKEY_free(key)
        X509_free(certificate)
    }

    /// A new identity held only in memory (tests, benchmarks, throwaway peers).
    public static func makeEphemeral(commonName: String) throws(TLSIdentityError) -> TLSIdentity {
        try makeIdentity(key: try makeKey(), commonName: commonName)
    }

    /// A new Ed25519 private key (one reference, owned by the caller).
    static func makeKey() throws(TLSIdentityError) -> OpaquePointer {
        OpenSSLErrorQueue.clear()
        guard let context = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nil) else {
            throw TLSIdentityError(reason: "cannot make a key: \(OpenSSLErrorQueue.takeText())")
        }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(context) == 1, EVP_PKEY_keygen(context, &key) == 1, let key else {
            throw TLSIdentityError(reason: "cannot make a key: \(OpenSSLErrorQueue.takeText())")
        }
        return key
    }

    /// A self-signed v3 certificate for `key` with subject and issuer `CN=commonName`, a random
    /// 127-bit serial and `TLSLimits.certificateValidityDays` of validity from a day ago.
    static func makeCertificate(key: OpaquePointer, commonName: String) throws(TLSIdentityError) -> OpaquePointer {
        let name = Array(commonName.utf8)
        guard !name.isEmpty, name.count <= TLSLimits.commonNameBytesMax, name.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
            throw TLSIdentityError(reason: "common name must be 1...\(TLSLimits.commonNameBytesMax) printable ASCII characters")
        }
        OpenSSLErrorQueue.clear()
        guard let certificate = X509_new() else {
            throw TLSIdentityError(reason: "cannot make a certificate: \(OpenSSLErrorQueue.takeText())")
        }
        guard X509_set_version(certificate, 2) == 1,
              setRandomSerial(certificate),
              X509_gmtime_adj(X509_getm_notBefore(certificate), -86_400) != nil,
              X509_time_adj_ex(X509_getm_notAfter(certificate), TLSLimits.certificateValidityDays, 0, nil) != nil,
              let subject = X509_get_subject_name(certificate),
              X509_NAME_add_entry_by_txt(subject, "CN", clibssl_mbstring_asc(), name, Int32(name.count), -1, 0) == 1,
              X509_set_issuer_name(certificate, subject) == 1,
              X509_set_pubkey(certificate, key) == 1,
              X509_sign(certificate, key, nil) > 0
        else {
            X509_free(certificate)
            throw TLSIdentityError(reason: "cannot make a certificate: \(OpenSSLErrorQueue.takeText())")
        }
        return certificate
    }

    private static func setRandomSerial(_ certificate: OpaquePointer) -> Bool {
        var bytes = [UInt8](repeating: 0, count: 16)
        guard RAND_bytes(&bytes, Int32(bytes.count)) == 1 else { return false }
        bytes[0] &= 0x7F
        guard let number = BN_bin2bn(bytes, Int32(bytes.count), nil) else { return false }
        defer { BN_free(number) }
        return BN_to_ASN1_INTEGER(number, X509_get_serialNumber(certificate)) != nil
    }
}

/// Why an identity could not be made, loaded or stored; the reason names the file.
public struct TLSIdentityError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What is wrong, e.g. "/var/lib/tracker/tls-key.pem: readable by group or others (mode 0644)".
    public var reason: String

    /// Makes an error.
    public init(reason: String) { self.reason = reason }

    /// The reason.
    public var description: String { reason }
}
