import Glibc
import Synchronization

/// The process's logger: one event a line on standard error (or where `configure` sends it),
/// in the configured format. Shells only; never give it a password, a session token or file
/// contents. Every value is escaped when the line is rendered (`LogText.escaped`, or JSON
/// string escaping), so text a peer or client chose can never forge a line or a field.
public enum Log {
    /// Where lines go and in what shape.
    public struct Destination: Sendable {
        /// The line format.
        public var format: LogFormat
        /// Writes one rendered line (newline included). Called under the logger's lock, so
        /// lines never interleave; it must not log itself.
        public var write: @Sendable (String) -> Void

        /// A destination.
        public init(format: LogFormat, write: @escaping @Sendable (String) -> Void) {
            self.format = format
            self.write = write
        }

        /// Standard error, in `format`.
        public static func standardError(_ format: LogFormat) -> Destination {
            Destination(format: format, write: writeStandardError)
        }
    }

    private static let destination = Mutex(Destination.standardError(.text))

    /// Sends every later line to `destination` (set once at start, before threads log).
    public static func configure(_ destination: Destination) {
        self.destination.withLock { $0 = destination }
    }

    /// The configured format.
    public static var format: LogFormat { destination.withLock { $0.format } }

    /// Logs at debug level.
    public static func debug(_ message: StaticString, _ fields: KeyValuePairs<String, String> = [:]) { write(LogRecord(.debug, message, fields)) }
    /// Logs at info level.
    public static func info(_ message: StaticString, _ fields: KeyValuePairs<String, String> = [:]) { write(LogRecord(.info, message, fields)) }
    /// Logs at warn level.
    public static func warn(_ message: StaticString, _ fields: KeyValuePairs<String, String> = [:]) { write(LogRecord(.warn, message, fields)) }
    /// Logs at error level.
    public static func error(_ message: StaticString, _ fields: KeyValuePairs<String, String> = [:]) { write(LogRecord(.error, message, fields)) }

    /// Renders `record` in the configured format and writes it.
    public static func write(_ record: LogRecord) {
        destination.withLock { $0.write(record.rendered($0.format)) }
    }

    /// Writes all of `line` to standard error, retrying short writes and EINTR.
    @Sendable public static func writeStandardError(_ line: String) {
        _ = writeAll(line, to: STDERR_FILENO)
    }

    /// Writes all of `text` to `descriptor`, retrying short writes and EINTR; returns whether
    /// every byte was written. A failed write (the reader closed the pipe: `EPIPE`, a full
    /// disk, a bad descriptor) drops the rest and returns false: never a trap, unlike
    /// `FileHandle.write(_:)`, whose `try!` kills the process on any write error.
    @discardableResult
    public static func writeAll(_ text: String, to descriptor: Int32) -> Bool {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return false }
            bytes = bytes.dropFirst(written)
        }
        return true
    }
}

/// A log handed to a library component (the peer server, a download) so its owner decides
/// where the lines go: `Logger.standard` is the process's `Log`; a test collects records.
public struct Logger: Sendable {
    /// Receives each record.
    public let emit: @Sendable (LogRecord) -> Void

    /// A logger that hands every record to `emit`.
    public init(emit: @escaping @Sendable (LogRecord) -> Void) { self.emit = emit }

    /// The process's log (`Log.write`).
    public static let standard = Logger { Log.write($0) }

    /// A logger that drops everything.
    public static let none = Logger { _ in }

    /// Logs at info level.
    public func info(_ message: StaticString, _ fields: KeyValuePairs<String, String> = [:]) { emit(LogRecord(.info, message, fields)) }
    /// Logs at warn level.
    public func warn(_ message: StaticString, _ fields: KeyValuePairs<String, String> = [:]) { emit(LogRecord(.warn, message, fields)) }
    /// Logs at error level.
    public func error(_ message: StaticString, _ fields: KeyValuePairs<String, String> = [:]) { emit(LogRecord(.error, message, fields)) }
}
