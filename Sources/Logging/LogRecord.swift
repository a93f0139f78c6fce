import SystemClock

/// How much a log line matters.
public enum LogLevel: String, Sendable, CaseIterable {
    /// Detail for a developer chasing a problem.
    case debug = "DEBUG"
    /// A normal event worth a line.
    case info = "INFO"
    /// Something went wrong that the process works around.
    case warn = "WARN"
    /// Something went wrong that the process cannot work around.
    case error = "ERROR"
}

/// The shape of each log line: `text` (time, level, message, `key=value` fields) or `json`
/// (one JSON object a line, for log collectors).
public enum LogFormat: String, Sendable, CaseIterable {
    /// `2026-12-02T01:02:03.456Z INFO tracker starting id=2 address=127.0.0.1:7002`.
    case text
    /// `{"time":"2026-12-02T01:02:03.456Z","level":"info","message":"tracker starting","id":"2"}`.
    case json
}

/// One event: a level, a constant message and `key=value` fields, in the order given. A
/// field value may be remote text; rendering escapes it. Never put a password, a session token
/// or file contents in one.
public struct LogRecord: Sendable {
    /// How much it matters.
    public var level: LogLevel
    /// What happened, the same text every time (the fields carry what varies).
    public var message: String
    /// What varies, in order.
    public var fields: [(key: String, value: String)]
    /// The wall clock when it happened, as (seconds since the epoch, nanoseconds).
    public var time: (seconds: Int, nanoseconds: Int)

    /// A record of now.
    public init(_ level: LogLevel, _ message: StaticString, _ fields: KeyValuePairs<String, String> = [:]) {
        self.init(level, message: message.description, fields: fields.map { (key: $0.key, value: $0.value) },
                  time: SystemClock.wallTime())
    }

    /// A record with every part given (tests, and lines built from parts).
    public init(_ level: LogLevel, message: String, fields: [(key: String, value: String)], time: (seconds: Int, nanoseconds: Int)) {
        self.level = level
        self.message = message
        self.fields = fields
        self.time = time
    }

    /// The line to write, ending in a newline.
    public func rendered(_ format: LogFormat) -> String {
        switch format {
        case .text: return LogText.line(self)
        case .json: return LogJSON.line(self)
        }
    }

    /// The time as ISO 8601 UTC with milliseconds: `2026-12-02T01:02:03.456Z`.
    public var timestamp: String {
        let days = time.seconds >= 0 ? time.seconds / 86_400 : (time.seconds - 86_399) / 86_400
        let secondOfDay = time.seconds - days * 86_400
        let (year, month, day) = Self.civilDate(daysSinceEpoch: days)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let millis = max(0, min(999, time.nanoseconds / 1_000_000))
        let millisText = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(year)-\(two(month))-\(two(day))T\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60)).\(millisText)Z"
    }

    /// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
    private static func civilDate(daysSinceEpoch: Int) -> (year: Int, month: Int, day: Int) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
