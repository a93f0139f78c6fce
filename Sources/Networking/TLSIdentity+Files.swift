import CLibSSL
import Glibc

extension TLSIdentity {
    /// Loads the identity stored in `directory` (`tls-key.pem`, `tls-cert.pem`), making and
    /// storing a new one first when there is none: the directory is created 0700 if missing,
    /// and each file is written to a fresh 0600 temporary file (O_CREAT|O_EXCL|O_NOFOLLOW),
    /// synced and hard-linked into place, so a crash never leaves a half-written key and two
    /// starters never overwrite each other. A key without a certificate gets a new certificate;
    /// a certificate without its key is refused rather than silently replaced.
    public static func loadOrCreate(directory: String, commonName: String) throws(TLSIdentityError) -> TLSIdentity {
        try ensurePrivateDirectory(directory)
        let keyPath = path(directory, keyFileName)
        let certificatePath = path(directory, certificateFileName)
        // A second pass runs only when another process created a file between our look and
        // our link; it then finds that file.
        for _ in 0..<2 {
            guard let keyPEM = try readIdentityFile(keyPath, isSecret: true) else {
                if try readIdentityFile(certificatePath, isSecret: false) != nil {
                    throw TLSIdentityError(reason: "\(certificatePath): exists without \(keyFileName); remove it to make a new identity")
                }
                let identity = try makeEphemeral(commonName: commonName)
                guard try createFile(keyPath, bytes: try identity.privateKeyPEM(), directory: directory) else { continue }
                guard try createFile(certificatePath, bytes: try identity.certificatePEM(), directory: directory) else { continue }
                return identity
            }
            let key = try decodeKey(pem: keyPEM, path: keyPath)
            guard let certificatePEM = try readIdentityFile(certificatePath, isSecret: false) else {
                let identity = try makeIdentity(key: key, commonName: commonName)
                guard try createFile(certificatePath, bytes: try identity.certificatePEM(), directory: directory) else { continue }
                return identity
            }
            return try combine(key: key, certificatePEM: certificatePEM, path: certificatePath)
        }
        throw TLSIdentityError(reason: "\(directory): identity files keep changing while being created")
    }

    /// Loads the identity stored in `directory`; missing files are errors.
    public static func load(directory: String) throws(TLSIdentityError) -> TLSIdentity {
        let keyPath = path(directory, keyFileName)
        let certificatePath = path(directory, certificateFileName)
        guard let keyPEM = try readIdentityFile(keyPath, isSecret: true) else {
            throw TLSIdentityError(reason: "\(keyPath): no such file")
        }
        let key = try decodeKey(pem: keyPEM, path: keyPath)
        guard let certificatePEM = try readIdentityFile(certificatePath, isSecret: false) else {
            EVP_PKEY_free(key)
            throw TLSIdentityError(reason: "\(certificatePath): no such file")
        }
        return try combine(key: key, certificatePEM: certificatePEM, path: certificatePath)
    }

    /// The private key as unencrypted PKCS#8 PEM.
    func privateKeyPEM() throws(TLSIdentityError) -> [UInt8] {
        try writePEM("private key") { bio in PEM_write_bio_PrivateKey(bio, key, nil, nil, 0, nil, nil) }
    }

    /// The certificate as PEM.
    public func certificatePEM() throws(TLSIdentityError) -> [UInt8] {
        try writePEM("certificate") { bio in PEM_write_bio_X509(bio, certificate) }
    }

    private func writePEM(_ what: String, _ write: (OpaquePointer) -> Int32) throws(TLSIdentityError) -> [UInt8] {
        OpenSSLErrorQueue.clear()
        guard let bio = BIO_new(BIO_s_secmem()) else {
            throw TLSIdentityError(reason: "cannot encode \(what): \(OpenSSLErrorQueue.takeText())")
        }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else { throw TLSIdentityError(reason: "cannot encode \(what): \(OpenSSLErrorQueue.takeText())") }
        var bytes = [UInt8](repeating: 0, count: Int(BIO_ctrl_pending(bio)))
        let count = BIO_read(bio, &bytes, Int32(bytes.count))
        guard count == Int32(bytes.count) else { throw TLSIdentityError(reason: "cannot encode \(what): short read") }
        return bytes
    }

    /// An identity around `key` (consumed: freed on failure) with a new self-signed certificate.
    static func makeIdentity(key: OpaquePointer, commonName: String) throws(TLSIdentityError) -> TLSIdentity {
        let certificate: OpaquePointer
        do {
            certificate = try makeCertificate(key: key, commonName: commonName)
        } catch {
            EVP_PKEY_free(key)
            throw error
        }
        return try TLSIdentity(key: key, certificate: certificate)
    }

    /// Pairs a loaded key with the certificate in `certificatePEM`, which must be for that key.
    private static func combine(key: OpaquePointer, certificatePEM: [UInt8], path: String) throws(TLSIdentityError) -> TLSIdentity {
        let certificate: OpaquePointer
        do {
            certificate = try decodeCertificate(pem: certificatePEM, path: path)
        } catch {
            EVP_PKEY_free(key)
            throw error
        }
        OpenSSLErrorQueue.clear()
        guard X509_check_private_key(certificate, key) == 1 else {
            OpenSSLErrorQueue.clear()
            EVP_PKEY_free(key)
            X509_free(certificate)
            throw TLSIdentityError(reason: "\(path): not the certificate of \(keyFileName)")
        }
        return try TLSIdentity(key: key, certificate: certificate)
    }

    private static func decodeKey(pem: [UInt8], path: String) throws(TLSIdentityError) -> OpaquePointer {
        var pem = pem
        defer { OPENSSL_cleanse(&pem, pem.count) }
        OpenSSLErrorQueue.clear()
        let key: OpaquePointer? = pem.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            // A password callback that supplies none: an encrypted key fails instead of
            // prompting on the terminal.
            return PEM_read_bio_PrivateKey(bio, nil, { _, _, _, _ in 0 }, nil)
        }
        guard let key else { throw TLSIdentityError(reason: "\(path): not a PEM private key: \(OpenSSLErrorQueue.takeText())") }
        return key
    }

    private static func decodeCertificate(pem: [UInt8], path: String) throws(TLSIdentityError) -> OpaquePointer {
        OpenSSLErrorQueue.clear()
        let certificate: OpaquePointer? = pem.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_X509(bio, nil, { _, _, _, _ in 0 }, nil)
        }
        guard let certificate else {
            throw TLSIdentityError(reason: "\(path): not a PEM certificate: \(OpenSSLErrorQueue.takeText())")
        }
        return certificate
    }

    private static func path(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}
