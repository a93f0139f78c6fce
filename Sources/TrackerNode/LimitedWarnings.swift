import Foundation
import Logging
import Networking
import Synchronization

/// tracker-node's files log through the one shared logger under its own name, so they need no
/// import of their own.
typealias Log = Logging.Log

/// Warnings that strangers can cause over and over, rate-limited per message.
extension Logging.Log {
    /// Lines of one repeated warning let through at once, then one per `limitedWarningMillis`.
    static let limitedWarningBurst = 10
    static let limitedWarningMillis: UInt64 = 5_000

    private static let limited = Mutex<[String: (bucket: TokenBucket, suppressed: Int)]>([:])

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
        var record = LogRecord(.warn, message, fields)
        if suppressed > 0 { record.fields.append((key: "suppressed", value: "\(suppressed)")) }
        write(record)
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
                for (kind, count) in pending {
                    write(LogRecord(.warn, "repeated warning suppressed", ["kind": kind, "suppressed": "\(count)"]))
                }
            }
        }
        thread.name = "log-suppression"
        thread.start()
    }
}
