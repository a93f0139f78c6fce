/// A TCP endpoint written `host:port`: an IPv4 dotted quad or a host name (resolved when
/// connecting, never while parsing), and a port in 1...65535.
public struct PeerAddress: Hashable, Sendable, CustomStringConvertible {
    /// The IPv4 dotted quad or host name, exactly as written.
    public var host: String
    /// The TCP port, 1...65535.
    public var port: UInt16

    /// Makes an address from parts that are already valid; no checks are made.
    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// `host:port`, the form `parse` accepts.
    public var description: String { "\(host):\(port)" }

    /// Parses `IP:PORT` or `HOSTNAME:PORT`, throwing `PeerAddressError` that says what is wrong.
    public static func parse(_ text: String) throws(PeerAddressError) -> PeerAddress {
        guard let colon = text.lastIndex(of: ":") else { throw .missingColon(text) }
        let hostText = String(text[..<colon])
        let portText = String(text[text.index(after: colon)...])
        try validateHost(hostText)
        return PeerAddress(host: hostText, port: try parsePort(portText))
    }

    /// Parses a decimal port in 1...65535.
    static func parsePort(_ text: String) throws(PeerAddressError) -> UInt16 {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { throw .badPort(text) }
        // Digits only; more than five of them is out of range whatever they say.
        guard text.utf8.count <= 5, let value = Int(text), value >= 1, value <= 65_535 else {
            throw .portOutOfRange(text)
        }
        return UInt16(value)
    }

    /// Accepts a dotted quad (when the host is only digits and dots) or an RFC 1123 host name.
    static func validateHost(_ host: String) throws(PeerAddressError) {
        guard !host.isEmpty else { throw .badHost(host, "empty host") }
        guard host.utf8.count <= NetworkingLimits.hostBytesMax else { throw .badHost(host, "host name too long") }
        let isDigitOrDot: (UInt8) -> Bool = { ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E }
        if host.utf8.allSatisfy(isDigitOrDot) {
            guard isDottedQuad(host) else { throw .badHost(host, "not an IPv4 dotted quad") }
            return
        }
        for label in host.split(separator: ".", omittingEmptySubsequences: false) {
            guard isHostLabel(label) else { throw .badHost(host, "not a valid host name") }
        }
    }

    private static func isDottedQuad(_ host: String) -> Bool {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        return parts.allSatisfy { part in
            guard !part.isEmpty, part.utf8.count <= 3, let value = Int(part) else { return false }
            return value <= 255
        }
    }

    private static func isHostLabel(_ label: Substring) -> Bool {
        guard !label.isEmpty, label.utf8.count <= 63 else { return false }
        guard label.utf8.first != 0x2D, label.utf8.last != 0x2D else { return false }
        return label.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2D
        }
    }
}

/// Why a `host:port` text is not a valid `PeerAddress`.
public enum PeerAddressError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No `:` separates host and port.
    case missingColon(String)
    /// The port is not a decimal number.
    case badPort(String)
    /// The port is a number outside 1...65535.
    case portOutOfRange(String)
    /// The host is neither a dotted quad nor a host name; the second value says why.
    case badHost(String, String)

    /// A one-line message quoting the offending text.
    public var description: String {
        switch self {
        case .missingColon(let text): return "missing ':' between host and port in '\(text)'"
        case .badPort(let text): return "bad port '\(text)'"
        case .portOutOfRange(let text): return "port \(text) out of range 1...65535"
        case .badHost(let host, let why): return "bad host '\(host)': \(why)"
        }
    }
}
