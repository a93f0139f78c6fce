import Foundation
import Networking
import Synchronization

/// One event a line on standard error: time, level, a constant message, then `key=value`
/// fields. Never give it a password or a session token. Every field value is escaped here, in
/// this one place: control and format characters (newlines, escape sequences, bidirectional
/// overrides) become `\n`, `\x1b`, `\u{202e}`, and a quoted value escapes `"` and `\`, so text a
/// peer or client chose can never forge a line or a field.
enum Log {
    enum Level: String { case debug = "DEBUG", info = "INFO", warn = "WARN", error = "ERROR" }

    /// Lines of one repeated warning let through at once, then one per `limitedWarningMillis`.
    static let limitedWarningBurst = 10
    static let limitedWarningMillis: UInt64 = 5_000

    private static let lock = Mutex(())
    private static let limited = Mutex<[String: (bucket: TokenBucket, suppressed: Int)]>([:])

    static func info(_ message: StaticString, _ fields: KeyValuePairs<String, String> = [:]) { write(.info, message, fields) }
    static func warn(_ message: StaticString, _ fields: KeyValuePairs<String, String> = [:]) { write(.warn, message, fields) }
    static func error(_ message: StaticString, _ fields: KeyValuePairs<String, String> = [:]) { write(.error, message, fields) }

    /// A warning that strangers can cause over and over (refused connections and handshakes,
    /// rejected frames): rate-limited per message. The next line let through carries
    /// `suppressed=N`, the lines dropped since the last one; and every `limitedWarningMillis`
    /// a summary line reports kinds whose drops no later line has reported yet.
    static func warnLimited(_ message: StaticString, _ fields: KeyValuePairs<String, String> = [:]) {
        let kind = message.description
        let now = monotonicMillis()
        let suppressed: Int? = limited.withLock { all in
            var entry = all[kind] ?? (TokenBucket(burst: limitedWarningBurst, perSecond: 1000 / Double(limitedWarningMillis), nowMillis: now), 0)
            defer { all[kind] = entry }
            guard entry.bucket.take(nowMillis: now) else {
                entry.suppressed += 1
                return nil
            }
            defer { entry.suppressed = 0 }
            return entry.suppressed
        }
        guard let suppressed else { return }
        write(.warn, message, fields, suppressed: suppressed)
    }

    /// Starts the thread that reports suppressed warnings even when no later line of their kind
    /// comes (a flood that ended).
    static func startSuppressionReports() {
        let thread = Thread {
            while true {
                usleep(UInt32(limitedWarningMillis * 1_000))
                let pending: [(String, Int)] = limited.withLock { all in
                    let kinds = all.keys.sorted().filter { all[$0]!.suppressed > 0 }
                    defer { for kind in kinds { all[kind]!.suppressed = 0 } }
                    return kinds.map { ($0, all[$0]!.suppressed) }
                }
                for (kind, count) in pending { write(.warn, "repeated warning suppressed", ["kind": kind], suppressed: count) }
            }
        }
        thread.name = "log-suppression"
        thread.start()
    }

    private static func write(_ level: Level, _ message: StaticString, _ fields: KeyValuePairs<String, String>, suppressed: Int = 0) {
        var line = "\(timestamp()) \(level.rawValue) \(message)"
        for (key, value) in fields { line += " \(escaped(key, quoting: false))=\(escaped(value, quoting: true))" }
        if suppressed > 0 { line += " suppressed=\(suppressed)" }
        line += "\n"
        lock.withLock { _ in FileHandle.standardError.write(Data(line.utf8)) }
    }

    /// `text` safe for one log line; quoted when it is empty or holds a space, `"` or `=`.
    static func escaped(_ text: String, quoting: Bool) -> String {
        let needsQuotes = quoting && (text.isEmpty || text.unicodeScalars.contains { $0 == " " || $0 == "\"" || $0 == "=" })
        var out = ""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\\": out += "\\\\"
            case "\"" where needsQuotes: out += "\\\""
            default:
                switch scalar.properties.generalCategory {
                case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned:
                    out += scalar.value < 0x100 ? "\\x" + hex(scalar.value, digits: 2) : "\\u{" + hex(scalar.value, digits: 4) + "}"
                default:
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return needsQuotes ? "\"" + out + "\"" : out
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, now.tv_nsec / 1_000_000)
    }
}

/// Milliseconds of the monotonic clock (for timers).
func monotonicMillis() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
}

/// Milliseconds of the wall clock (for session leases, which every tracker must read alike).
func wallMillis() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
}
