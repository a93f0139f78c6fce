import BinaryCoding
import Hashing
import Testing

private func ascii(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A deterministic byte pattern long enough to cross every slicing boundary.
private func pattern(count: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ $0 >> 7) }
}

@Suite("Digests")
struct DigestTests {
    @Test("SHA-1 of \"abc\" matches FIPS 180 example")
    func sha1KnownAnswer() {
        #expect(Hex.encode(SHA1.hash(ascii("abc"))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
    }

    @Test("SHA-1 of the empty string matches the known digest")
    func sha1Empty() {
        #expect(Hex.encode(SHA1.hash([UInt8]())) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
    }

    @Test("SHA-256 of \"abc\" matches FIPS 180 example")
    func sha256KnownAnswer() {
        #expect(Hex.encode(SHA256.hash(ascii("abc")))
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test("SHA-1 fed in uneven pieces equals the one-shot digest", arguments: [1, 7, 64, 1000])
    func sha1Incremental(pieceBytes: Int) {
        let bytes = pattern(count: 10_000)
        var hasher = SHA1()
        var start = 0
        while start < bytes.count {
            let end = min(start + pieceBytes, bytes.count)
            hasher.update(bytes[start..<end])
            start = end
        }
        let streamed = hasher.finalize()
        #expect(streamed == SHA1.hash(bytes))
        #expect(streamed.count == SHA1.byteCount)
    }

    @Test("SHA-256 fed in pieces, including raw buffers, equals the one-shot digest")
    func sha256Incremental() {
        let bytes = pattern(count: 4097)
        var hasher = SHA256()
        hasher.update(Array(bytes[..<100]))
        bytes[100...].withUnsafeBytes { hasher.update($0) }
        #expect(hasher.finalize() == SHA256.hash(bytes))
    }

    @Test("Hex decodes what it encodes and rejects malformed text")
    func hexRoundTrip() {
        let bytes: [UInt8] = [0x00, 0x7F, 0x80, 0xFF, 0x0A]
        #expect(Hex.decode(Hex.encode(bytes)) == bytes)
        #expect(Hex.decode("ABcd") == [0xAB, 0xCD])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
    }
}

@Suite("Keyed hashes and passwords")
struct KeyedTests {
    @Test("PBKDF2-HMAC-SHA256 matches the known vector for password/salt/1 iteration")
    func pbkdf2OneIteration() throws {
        let key = try PasswordHash.derive(password: "password", salt: ascii("salt"), iterations: 1)
        #expect(Hex.encode(key) == "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b")
    }

    @Test("PBKDF2-HMAC-SHA256 matches the known vector for 4096 iterations")
    func pbkdf2ManyIterations() throws {
        let key = try PasswordHash.derive(password: "password", salt: ascii("salt"), iterations: 4096)
        #expect(Hex.encode(key) == "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a")
    }

    @Test("A password verifies against its own key and not against a different password")
    func passwordVerify() throws {
        let salt = try PasswordHash.makeSalt()
        #expect(salt.count == PasswordHash.saltByteCount)
        let key = try PasswordHash.derive(password: "hunter2", salt: salt, iterations: 1000)
        #expect(key.count == PasswordHash.outputByteCount)
        #expect(try PasswordHash.verify(password: "hunter2", salt: salt, iterations: 1000, expected: key))
        #expect(try !PasswordHash.verify(password: "hunter3", salt: salt, iterations: 1000, expected: key))
        #expect(PasswordHash.iterationCount >= 100_000)
    }

    @Test("HMAC-SHA256 matches RFC 4231 test case 1")
    func hmacRFC4231Case1() {
        let key = [UInt8](repeating: 0x0B, count: 20)
        let tag = HMACSHA256.authenticate(key: key, message: ascii("Hi There"))
        #expect(Hex.encode(tag) == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        #expect(HMACSHA256.isValid(tag: tag, key: key, message: ascii("Hi There")))
    }

    @Test("HMAC verification rejects a changed tag, message, key or tag length")
    func hmacRejects() {
        let key = ascii("key")
        let tag = HMACSHA256.authenticate(key: key, message: ascii("message"))
        var flipped = tag
        flipped[31] ^= 1
        #expect(!HMACSHA256.isValid(tag: flipped, key: key, message: ascii("message")))
        #expect(!HMACSHA256.isValid(tag: tag, key: key, message: ascii("messagf")))
        #expect(!HMACSHA256.isValid(tag: tag, key: ascii("kez"), message: ascii("message")))
        #expect(!HMACSHA256.isValid(tag: Array(tag.prefix(16)), key: key, message: ascii("message")))
    }

    @Test("Constant-time comparison distinguishes equal and unequal byte strings")
    func constantTime() {
        #expect(ConstantTime.isEqual([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.isEqual([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.isEqual([1, 2, 3], [1, 2]))
        #expect(ConstantTime.isEqual([], []))
    }

    @Test("Secure random bytes have the asked length and differ between calls")
    func secureRandom() throws {
        let first = try SecureRandom.bytes(count: 32)
        let second = try SecureRandom.bytes(count: 32)
        #expect(first.count == 32)
        #expect(first != second)
        #expect(try SecureRandom.bytes(count: 0).isEmpty)
        #expect(try SecureRandom.uint64() != SecureRandom.uint64())
    }
}

@Suite("CRC32C")
struct CRC32CTests {
    @Test("CRC32C of \"123456789\" is the Castagnoli check value 0xE3069283")
    func checkValue() {
        #expect(CRC32C.checksum(ascii("123456789")) == 0xE306_9283)
    }

    @Test("CRC32C matches RFC 3720 iSCSI vectors (32 zeros, 32 ones, ascending bytes)")
    func iscsiVectors() {
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    @Test("CRC32C fed in pieces at every split point equals the one-shot checksum")
    func incremental() {
        let bytes = pattern(count: 100)
        let whole = CRC32C.checksum(bytes)
        for split in 0...bytes.count {
            var crc = CRC32C()
            crc.update(bytes[..<split])
            crc.update(bytes[split...])
            #expect(crc.value == whole, "split at \(split)")
        }
    }

    @Test("The sliced fast path agrees with the bytewise definition on long unaligned input")
    func slicedMatchesBitwise() {
        let bytes = pattern(count: 1031)
        for start in 0..<9 {
            let slice = bytes[start...]
            #expect(CRC32C.checksum(slice) == bitwiseCRC32C(slice))
        }
    }

    /// The definition, one bit at a time: the reference the table-driven code must match.
    private func bitwiseCRC32C(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }
}
