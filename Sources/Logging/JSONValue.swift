import Foundation

/// A JSON value, built by hand so key order is stable; the one JSON writer (client `--json`
/// answers, JSON log lines, benchmark figures). Every string is escaped: the output always
/// parses, whatever the text holds.
public indirect enum JSONValue: Sendable {
    /// A string.
    case string(String)
    /// A measured number, printed with one decimal (NaN and infinities print as 0).
    case number(Double)
    /// A number printed with `fractionDigits` decimals (NaN and infinities print as `null`).
    case decimal(Double, fractionDigits: Int)
    /// A whole number.
    case integer(Int64)
    /// An unsigned count or size, printed in full (no conversion to Int64 that could trap).
    case unsigned(UInt64)
    /// `true` or `false`.
    case bool(Bool)
    /// `null`.
    case null
    /// A list.
    case array([JSONValue])
    /// An object, keys in the order given.
    case object([(String, JSONValue)])

    /// The compact JSON text.
    public var text: String { text(escapingFormatCharacters: false) }

    /// The compact JSON text; with `escapingFormatCharacters`, Unicode format and separator
    /// characters (bidi overrides, U+2028) are written as `\uXXXX` too, for text an operator
    /// reads on a terminal.
    public func text(escapingFormatCharacters: Bool) -> String {
        var out = ""
        write(to: &out, escapingFormatCharacters: escapingFormatCharacters)
        return out
    }

    private func write(to out: inout String, escapingFormatCharacters: Bool) {
        switch self {
        case let .string(s): out += Self.quote(s, escapingFormatCharacters: escapingFormatCharacters)
        case let .number(n): out += n.isFinite ? formatted(n, fractionDigits: 1) : "0"
        case let .decimal(n, digits): out += n.isFinite ? formatted(n, fractionDigits: digits) : "null"
        case let .integer(n): out += String(n)
        case let .unsigned(n): out += String(n)
        case let .bool(b): out += b ? "true" : "false"
        case .null: out += "null"
        case let .array(items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(to: &out, escapingFormatCharacters: escapingFormatCharacters)
            }
            out += "]"
        case let .object(fields):
            out += "{"
            for (i, field) in fields.enumerated() {
                if i > 0 { out += "," }
                out += Self.quote(field.0, escapingFormatCharacters: escapingFormatCharacters) + ":"
                field.1.write(to: &out, escapingFormatCharacters: escapingFormatCharacters)
            }
            out += "}"
        }
    }

    /// A whole number from a measured `Double` (NaN, infinities and values out of range give
    /// 0 or the nearest bound, never a trap).
    public static func integer(clamping value: Double) -> JSONValue {
        guard value.isFinite else { return .integer(0) }
        if value >= 9.2e18 { return .integer(.max) }
        if value <= -9.2e18 { return .integer(.min) }
        return .integer(Int64(value.rounded(.towardZero)))
    }

    /// A JSON string literal: quotes, backslashes and control characters (C0 and DEL) escaped;
    /// with `escapingFormatCharacters`, every `LogText.isControl` character too (as `\uXXXX`,
    /// a surrogate pair above U+FFFF). Invalid UTF-8 never reaches here: a `String` made from
    /// bytes holds U+FFFD in its place.
    public static func quote(_ s: String, escapingFormatCharacters: Bool = false) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || (escapingFormatCharacters && LogText.isControl(scalar)) {
                    for unit in String(scalar).utf16 { out += "\\u" + hex4(unit) }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private static func hex4(_ unit: UInt16) -> String {
        let digits = String(unit, radix: 16)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }

    private func formatted(_ value: Double, fractionDigits: Int) -> String {
        String(format: "%.\(max(0, min(17, fractionDigits)))f", value)
    }
}
