/// The exact rules for names and addresses, shared by commands, queries and snapshot restore.
///
/// A *name* (user id, group id, file name) is 1 to `Limits.nameBytesMax` characters, each a
/// printable ASCII character other than space and `/` (bytes 0x21–0x7E except 0x2F); `.` and
/// `..` alone are refused because they are not file names. Non-ASCII characters are refused, so
/// a name compares, sorts and prints the same way everywhere.
public enum NameRule {
    /// Bytes of a certificate fingerprint (a SHA-256).
    public static let fingerprintBytes = 32

    /// Whether `fingerprint` may be stored with a session: a SHA-256, or empty (no TLS).
    public static func isValidFingerprint(_ fingerprint: [UInt8]) -> Bool {
        fingerprint.isEmpty || fingerprint.count == fingerprintBytes
    }

    /// Why `name` is not a valid name, or nil when it is.
    public static func violation(of name: String, limits: Limits) -> String? {
        let utf8 = name.utf8
        if utf8.isEmpty { return "is empty" }
        if utf8.count > limits.nameBytesMax { return "is longer than \(limits.nameBytesMax) characters" }
        for byte in utf8 {
            if byte == UInt8(ascii: "/") { return "contains '/'" }
            if byte == UInt8(ascii: " ") { return "contains a space" }
            if byte < 0x20 || byte == 0x7F { return "contains a control character" }
            if byte > 0x7F { return "contains a non-ASCII character" }
        }
        if name == "." || name == ".." { return "is '.' or '..'" }
        return nil
    }

    /// Why `address` is not a valid peer address `HOST:PORT`, or nil when it is: a non-empty host
    /// of printable ASCII without spaces or `/`, a colon, and a decimal port 1–65535.
    public static func addressViolation(of address: String, limits: Limits) -> String? {
        let bytes = Array(address.utf8)
        if bytes.count > limits.peerAddressBytesMax { return "is longer than \(limits.peerAddressBytesMax) bytes" }
        guard let colon = bytes.lastIndex(of: UInt8(ascii: ":")), colon > 0 else { return "has no HOST:PORT form" }
        for byte in bytes[..<colon] where byte <= 0x20 || byte >= 0x7F || byte == UInt8(ascii: "/") {
            return "has a bad character in its host"
        }
        let port = bytes[(colon + 1)...]
        guard !port.isEmpty, port.count <= 5 else { return "has a bad port" }
        var value = 0
        for byte in port {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return "has a bad port" }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        guard value >= 1, value <= 65_535 else { return "has a port outside 1-65535" }
        return nil
    }
}
