import CLibCrypto

/// Stops the process with libcrypto's queued error text: used only for failures no caller can
/// handle (allocation failure, an algorithm missing from the provider).
func cryptoFailure(_ function: String) -> Never {
    preconditionFailure("\(function) failed: \(takeCryptoErrorText())")
}

/// Pops libcrypto's thread-local error queue and returns the most recent error as text.
func takeCryptoErrorText() -> String {
    var code: UInt = 0
    var next = ERR_get_error()
    while next != 0 {
        code = next
        next = ERR_get_error()
    }
    guard code != 0 else { return "no libcrypto error queued" }
    let textBytesMax = 256
    var text = [CChar](repeating: 0, count: textBytesMax)
    ERR_error_string_n(code, &text, text.count)
    return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}


/// Comparison whose running time depends only on the lengths, never on where the bytes differ.
public enum ConstantTime {
    /// Whether `a` and `b` hold the same bytes, compared with `CRYPTO_memcmp`. Inputs of
    /// different lengths are unequal (the length is not treated as a secret).
    public static func isEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        guard !a.isEmpty else { return true }
        return a.withUnsafeBytes { left in
            b.withUnsafeBytes { right in
                CRYPTO_memcmp(left.baseAddress, right.baseAddress, left.count) == 0
            }
        }
    }
}

/// Lowercase hexadecimal text for byte strings (digests in logs, tests and metadata).
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Returns two lowercase hex digits per byte.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Parses hex digits (either case) into bytes; returns nil for an odd length or any
    /// character that is not a hex digit.
    public static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
