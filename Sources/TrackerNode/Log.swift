import Foundation
import Synchronization

/// One event a line on standard error: time, level, a constant message, then `key=value`
/// fields. Never give it a password or a session token.
enum Log {
    enum Level: String { case debug = "DEBUG", info = "INFO", warn = "WARN", error = "ERROR" }

    private static let lock = Mutex(())

    static func info(_ message: StaticString, _ fields: KeyValuePairs<String, String> = [:]) { write(.info, message, fields) }
    static func warn(_ message: StaticString, _ fields: KeyValuePairs<String, String> = [:]) { write(.warn, message, fields) }
    static func error(_ message: StaticString, _ fields: KeyValuePairs<String, String> = [:]) { write(.error, message, fields) }

    private static func write(_ level: Level, _ message: StaticString, _ fields: KeyValuePairs<String, String>) {
        var line = "\(timestamp()) \(level.rawValue) \(message)"
        for (key, value) in fields {
            let quoted = value.contains(" ") || value.isEmpty ? "\"\(value)\"" : value
            line += " \(key)=\(quoted)"
        }
        line += "\n"
        lock.withLock { _ in FileHandle.standardError.write(Data(line.utf8)) }
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
