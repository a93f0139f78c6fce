import Glibc

/// A file failure with its errno text.
public struct FileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What failed, e.g. "open /tmp/x".
    public var operation: String
    /// The errno value.
    public var code: Int32

    /// Makes an error from an operation and errno.
    public init(_ operation: String, code: Int32 = errno) {
        self.operation = operation
        self.code = code
    }

    /// One line: the operation and the system's text.
    public var description: String { "\(operation): \(String(cString: strerror(code)))" }
}

/// An open file descriptor for positional reads and writes (thread-safe: `pread`/`pwrite`
/// carry their own offsets), closed on deinit.
public final class PieceFile: Sendable {
    /// The descriptor.
    public let descriptor: Int32
    /// The path it was opened with, for messages.
    public let path: String

    /// Opens `path` for reading.
    public static func openForReading(_ path: String) throws -> PieceFile {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError("open \(path)") }
        return PieceFile(descriptor: fd, path: path)
    }

    /// Opens (creating if needed, never truncating) `path` for reading and writing.
    public static func openForWriting(_ path: String) throws -> PieceFile {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError("open \(path)") }
        return PieceFile(descriptor: fd, path: path)
    }

    private init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit { close(descriptor) }

    /// The file's size now.
    public func size() throws -> UInt64 {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw FileError("stat \(path)") }
        return UInt64(info.st_size)
    }

    /// Sets the file's size.
    public func truncate(to size: UInt64) throws {
        guard ftruncate(descriptor, off_t(size)) == 0 else { throw FileError("truncate \(path)") }
    }

    /// Reads exactly `buffer.count` bytes at `offset`; false at a premature end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Bool {
        var done = 0
        while done < buffer.count {
            let n = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n > 0 { done += n; continue }
            if n == 0 { return false }
            if errno == EINTR { continue }
            throw FileError("read \(path)")
        }
        return true
    }

    /// Reads `count` bytes at `offset`.
    public func read(count: Int, at offset: UInt64) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let complete = try bytes.withUnsafeMutableBytes { try read(into: $0, at: offset) }
        guard complete else { throw FileError("read \(path): file is shorter than expected", code: EIO) }
        return bytes
    }

    /// Writes all of `bytes` at `offset`.
    public func write(_ bytes: [UInt8], at offset: UInt64) throws {
        try bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = pwrite(descriptor, raw.baseAddress! + done, raw.count - done, off_t(offset) + off_t(done))
                if n > 0 { done += n; continue }
                if n < 0 && errno == EINTR { continue }
                throw FileError("write \(path)")
            }
        }
    }

    /// Flushes the file's data and size to disk.
    public func sync() throws {
        guard fsync(descriptor) == 0 else { throw FileError("fsync \(path)") }
    }
}

/// Facts about a path from `stat`.
public struct FileFacts: Equatable, Sendable, Codable {
    /// Size in bytes.
    public var sizeBytes: UInt64
    /// Modification time in nanoseconds since the epoch.
    public var modifiedNanos: Int64
    /// Whether it is a regular file.
    public var isRegular: Bool
    /// Whether it is a directory.
    public var isDirectory: Bool

    /// The facts of `path`, or nil when it does not exist (or cannot be examined).
    public static func of(_ path: String) -> FileFacts? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        let kind = info.st_mode & S_IFMT
        return FileFacts(sizeBytes: UInt64(info.st_size),
                         modifiedNanos: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
                         isRegular: kind == S_IFREG, isDirectory: kind == S_IFDIR)
    }
}
