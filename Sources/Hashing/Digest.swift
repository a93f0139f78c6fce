import BinaryCoding
import CLibCrypto

/// The shared EVP machinery behind `SHA1` and `SHA256`: one digest context, owned uniquely.
///
/// libcrypto fails these calls only when it cannot allocate memory or the algorithm is not
/// available in the loaded provider (e.g. SHA-1 under a FIPS-only configuration). Neither is
/// something a caller can handle, so they stop the process with libcrypto's error text.
struct EVPDigest: ~Copyable {
    private let context: OpaquePointer
    private let algorithm: OpaquePointer
    let byteCount: Int

    init(_ algorithm: OpaquePointer) {
        guard let context = EVP_MD_CTX_new() else { cryptoFailure("EVP_MD_CTX_new") }
        self.context = context
        self.algorithm = algorithm
        byteCount = Int(EVP_MD_get_size(algorithm))
        guard EVP_DigestInit_ex(context, algorithm, nil) == 1 else { cryptoFailure("EVP_DigestInit_ex") }
    }

    deinit { EVP_MD_CTX_free(context) }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        guard EVP_DigestUpdate(context, base, bytes.count) == 1 else { cryptoFailure("EVP_DigestUpdate") }
    }

    consuming func finalize() -> [UInt8] {
        var length: UInt32 = 0
        let digest = [UInt8](unsafeUninitializedCapacity: Int(EVP_MAX_MD_SIZE)) { buffer, count in
            guard EVP_DigestFinal_ex(context, buffer.baseAddress, &length) == 1 else {
                cryptoFailure("EVP_DigestFinal_ex")
            }
            count = Int(length)
        }
        precondition(digest.count == byteCount, "digest length differs from the algorithm's size")
        return digest
    }

    static func hash(_ bytes: UnsafeRawBufferPointer, algorithm: OpaquePointer) -> [UInt8] {
        var digest = EVPDigest(algorithm)
        digest.update(bytes)
        return digest.finalize()
    }
}

/// A streaming SHA-1 hasher (FIPS 180-4) computed by libcrypto. Used to check file pieces and
/// whole files; SHA-1 is not collision resistant, so never use it where an attacker chooses
/// both inputs.
///
/// The hasher is noncopyable and `finalize()` consumes it, so a finished hasher cannot be
/// updated again. Not `Sendable`: use it from one task at a time.
public struct SHA1: ~Copyable {
    /// Bytes in a SHA-1 digest.
    public static let byteCount = 20

    private var digest: EVPDigest

    /// Starts a new hash.
    public init() { digest = EVPDigest(EVP_sha1()) }

    /// Feeds raw bytes into the hash.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) { digest.update(bytes) }

    /// Feeds an array's bytes into the hash.
    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// Feeds a slice's bytes into the hash.
    public mutating func update(_ bytes: ArraySlice<UInt8>) { bytes.withUnsafeBytes { update($0) } }

    /// Ends the hash and returns the 20-byte digest.
    public consuming func finalize() -> [UInt8] { digest.finalize() }

    /// Returns the 20-byte SHA-1 digest of `bytes`.
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        EVPDigest.hash(bytes, algorithm: EVP_sha1())
    }

    /// Returns the 20-byte SHA-1 digest of an array or slice.
    public static func hash(_ bytes: some RandomAccessCollection<UInt8>) -> [UInt8] {
        withContiguousBytes(bytes) { hash($0) }
    }
}

/// A streaming SHA-256 hasher (FIPS 180-4) computed by libcrypto.
///
/// Noncopyable like `SHA1`; `finalize()` consumes it. Not `Sendable`.
public struct SHA256: ~Copyable {
    /// Bytes in a SHA-256 digest.
    public static let byteCount = 32

    private var digest: EVPDigest

    /// Starts a new hash.
    public init() { digest = EVPDigest(EVP_sha256()) }

    /// Feeds raw bytes into the hash.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) { digest.update(bytes) }

    /// Feeds an array's bytes into the hash.
    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// Feeds a slice's bytes into the hash.
    public mutating func update(_ bytes: ArraySlice<UInt8>) { bytes.withUnsafeBytes { update($0) } }

    /// Ends the hash and returns the 32-byte digest.
    public consuming func finalize() -> [UInt8] { digest.finalize() }

    /// Returns the 32-byte SHA-256 digest of `bytes`.
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        EVPDigest.hash(bytes, algorithm: EVP_sha256())
    }

    /// Returns the 32-byte SHA-256 digest of an array or slice.
    public static func hash(_ bytes: some RandomAccessCollection<UInt8>) -> [UInt8] {
        withContiguousBytes(bytes) { hash($0) }
    }
}
