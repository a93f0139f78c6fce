import BinaryCoding
import CLibCrypto

/// A libcrypto call that failed, with the function's name and libcrypto's error text.
public struct CryptoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The libcrypto function that failed, e.g. "RAND_bytes".
    public var function: String
    /// libcrypto's description of the most recent queued error.
    public var detail: String

    /// Makes an error for `function` with libcrypto's `detail`.
    public init(function: String, detail: String) {
        self.function = function
        self.detail = detail
    }

    /// "<function> failed: <detail>".
    public var description: String { "\(function) failed: \(detail)" }
}

/// Password hashing with PBKDF2-HMAC-SHA256 (RFC 8018) from libcrypto.
///
/// Store the salt, the iteration count and the derived key together; check a login with
/// `verify(password:salt:iterations:expected:)`, which compares in constant time.
public enum PasswordHash {
    /// Iterations for newly derived keys. 100,000 is the floor the team agreed; at the measured
    /// cost (see the Hashing notes) it keeps a login well under 100 ms on one core.
    public static let iterationCount = 100_000
    /// The most iterations `derive` accepts, so a damaged stored count cannot stall a node.
    public static let iterationCountMax = 10_000_000
    /// Bytes of salt `makeSalt()` returns.
    public static let saltByteCount = 16
    /// Bytes of derived key.
    public static let outputByteCount = 32
    /// The longest password accepted, in UTF-8 bytes.
    public static let passwordBytesMax = 1024

    /// Returns a fresh random salt of `saltByteCount` bytes.
    public static func makeSalt() throws -> [UInt8] {
        try SecureRandom.bytes(count: saltByteCount)
    }

    /// Derives the 32-byte PBKDF2-HMAC-SHA256 key of `password` (its UTF-8 bytes) and `salt`.
    /// `iterations` must be in 1...`iterationCountMax`, the password at most
    /// `passwordBytesMax` bytes (preconditions). Throws when libcrypto refuses, e.g. a FIPS
    /// provider rejecting a short salt.
    public static func derive(
        password: String, salt: [UInt8], iterations: Int = iterationCount
    ) throws -> [UInt8] {
        precondition((1...iterationCountMax).contains(iterations), "PBKDF2 iterations out of range")
        let passwordBytes = Array(password.utf8)
        precondition(passwordBytes.count <= passwordBytesMax, "password longer than passwordBytesMax")
        precondition(salt.count <= Int(Int32.max), "salt too long")
        var key = [UInt8](repeating: 0, count: outputByteCount)
        let status = withContiguousBytes(passwordBytes) { passwordBuffer in
            withContiguousBytes(salt) { saltBuffer in
                key.withUnsafeMutableBytes { keyBuffer in
                    PKCS5_PBKDF2_HMAC(
                        passwordBuffer.baseAddress?.assumingMemoryBound(to: CChar.self),
                        Int32(passwordBuffer.count),
                        saltBuffer.baseAddress?.assumingMemoryBound(to: UInt8.self),
                        Int32(saltBuffer.count),
                        Int32(iterations), EVP_sha256(), Int32(keyBuffer.count),
                        keyBuffer.baseAddress?.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        guard status == 1 else {
            throw CryptoError(function: "PKCS5_PBKDF2_HMAC", detail: takeCryptoErrorText())
        }
        return key
    }

    /// Whether `password` derives `expected` with this salt and iteration count; the final
    /// comparison takes the same time wherever the keys differ.
    public static func verify(
        password: String, salt: [UInt8], iterations: Int, expected: [UInt8]
    ) throws -> Bool {
        let derived = try derive(password: password, salt: salt, iterations: iterations)
        return ConstantTime.isEqual(derived, expected)
    }
}

/// HMAC-SHA256 (RFC 2104, FIPS 198-1) from libcrypto, for authenticating tokens and frames.
public enum HMACSHA256 {
    /// Bytes in a tag.
    public static let byteCount = 32

    /// Returns the 32-byte HMAC-SHA256 tag of `message` under `key`.
    public static func authenticate(key: [UInt8], message: some Collection<UInt8>) -> [UInt8] {
        precondition(key.count <= Int(Int32.max), "HMAC key too long")
        var tag = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let result = withContiguousBytes(key) { keyBuffer in
            withContiguousBytes(message) { messageBuffer in
                tag.withUnsafeMutableBytes { tagBuffer in
                    HMAC(EVP_sha256(), keyBuffer.baseAddress, Int32(keyBuffer.count),
                         messageBuffer.baseAddress?.assumingMemoryBound(to: UInt8.self), messageBuffer.count,
                         tagBuffer.baseAddress?.assumingMemoryBound(to: UInt8.self), &length)
                }
            }
        }
        guard result != nil, Int(length) == byteCount else { cryptoFailure("HMAC") }
        return Array(tag.prefix(byteCount))
    }

    /// Whether `tag` is the HMAC-SHA256 of `message` under `key`, compared in constant time.
    public static func isValid(tag: [UInt8], key: [UInt8], message: some Collection<UInt8>) -> Bool {
        ConstantTime.isEqual(authenticate(key: key, message: message), tag)
    }
}

/// Cryptographically secure random bytes from libcrypto's DRBG (`RAND_bytes`).
public enum SecureRandom {
    /// The most bytes one call returns.
    public static let requestBytesMax = 1 << 20

    /// Returns `count` random bytes (0...`requestBytesMax`); throws if libcrypto's generator
    /// cannot be seeded.
    public static func bytes(count: Int) throws -> [UInt8] {
        precondition((0...requestBytesMax).contains(count), "random byte count out of range")
        var bytes = [UInt8](repeating: 0, count: count)
        guard count > 0 else { return bytes }
        let status = bytes.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        guard status == 1 else { throw CryptoError(function: "RAND_bytes", detail: takeCryptoErrorText()) }
        return bytes
    }

    /// Returns a uniformly random 64-bit value.
    public static func uint64() throws -> UInt64 {
        try bytes(count: 8).reduce(0) { $0 << 8 | UInt64($1) }
    }
}
