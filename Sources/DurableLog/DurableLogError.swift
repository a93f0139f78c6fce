/// Why the durable log could not load or save. Every error names the file it concerns, and a
/// damaged record also names its byte offset, so an operator can find the damage.
public struct DurableLogError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The class of failure.
    public enum Kind: Equatable, Sendable {
        /// A system call failed; `errno` is its error number.
        case system(operation: String, errno: Int32)
        /// A log record is damaged (length, checksum, encoding or index) before the log's end.
        case corruptRecord
        /// The hard state file is damaged.
        case corruptHardState
        /// The set of segment files is wrong: a bad name, a missing or overlapping segment.
        case badSegments
        /// No snapshot file is intact (checksum, length or header), so the state it held is
        /// lost: the tracker must not start from the log alone.
        case corruptSnapshot
        /// An earlier write or sync failed; the in-memory view may no longer match the disk, so
        /// the store refuses further work. Restart the process and `load()` again.
        case unusable
    }

    /// The class of failure.
    public var kind: Kind
    /// The file or directory concerned.
    public var path: String
    /// The byte offset in `path` where the damage starts, when it is about a record.
    public var offset: Int?
    /// A human-readable explanation (for system errors, the errno text).
    public var reason: String

    /// Makes an error.
    public init(_ kind: Kind, path: String, offset: Int? = nil, reason: String) {
        self.kind = kind
        self.path = path
        self.offset = offset
        self.reason = reason
    }

    /// The path, the offset when known, and the reason, on one line.
    public var description: String {
        if let offset { return "\(path) at byte \(offset): \(reason)" }
        return "\(path): \(reason)"
    }
}
