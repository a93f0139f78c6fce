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

    /// Creates `path` for reading and writing with `mode` (0600 unless told): fails with
    /// `EEXIST` when anything is there, a symbolic link included (`O_EXCL | O_NOFOLLOW`), so
    /// nothing is ever written through a link planted at the path.
    public static func createNew(_ path: String, mode: mode_t = 0o600) throws -> PieceFile {
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileError("create \(path)") }
        return PieceFile(descriptor: fd, path: path)
    }

    /// Opens the existing `path` for reading and writing without following a symbolic link
    /// (`ELOOP` when it is one) and without blocking on a FIFO; the caller checks `facts()`.
    public static func openExistingForWriting(_ path: String) throws -> PieceFile {
        let fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
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
        return UInt64(clamping: info.st_size)
    }

    /// What `fstat` says about the open file.
    public func facts() throws -> DescriptorFacts {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw FileError("stat \(path)") }
        return DescriptorFacts(info)
    }

    /// Sets the file's size.
    public func truncate(to size: UInt64) throws {
        guard let length = off_t(exactly: size), ftruncate(descriptor, length) == 0 else { throw FileError("truncate \(path)") }
    }

    /// Reads exactly `buffer.count` bytes at `offset`; false at a premature end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Bool {
        guard let start = off_t(exactly: offset), start <= off_t.max - off_t(buffer.count) else {
            throw FileError("read \(path) at \(offset)", code: EINVAL)
        }
        var done = 0
        while done < buffer.count {
            let n = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, start + off_t(done))
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
        guard let start = off_t(exactly: offset), start <= off_t.max - off_t(bytes.count) else {
            throw FileError("write \(path) at \(offset)", code: EINVAL)
        }
        try bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = pwrite(descriptor, raw.baseAddress! + done, raw.count - done, start + off_t(done))
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
        // A modification time far in the future (or past) saturates instead of overflowing.
        let (seconds, overflow) = Int64(info.st_mtim.tv_sec).multipliedReportingOverflow(by: 1_000_000_000)
        let sum = seconds.addingReportingOverflow(Int64(info.st_mtim.tv_nsec))
        let nanos = overflow ? (info.st_mtim.tv_sec < 0 ? Int64.min : Int64.max) : (sum.overflow ? Int64.max : sum.partialValue)
        return FileFacts(sizeBytes: UInt64(clamping: info.st_size),
                         modifiedNanos: nanos,
                         isRegular: kind == S_IFREG, isDirectory: kind == S_IFDIR)
    }
}

/// What `fstat`/`lstat` says about a file: its kind, size, owner, links and identity.
public struct DescriptorFacts: Equatable, Sendable {
    /// Whether it is a regular file.
    public var isRegular: Bool
    /// Size in bytes.
    public var sizeBytes: UInt64
    /// The owning user id.
    public var ownerID: uid_t
    /// Hard links to it.
    public var linkCount: UInt64
    /// The permission bits.
    public var mode: mode_t
    /// Device and inode: which file it is.
    public var device: UInt64
    /// See `device`.
    public var inode: UInt64

    init(_ info: stat) {
        isRegular = info.st_mode & S_IFMT == S_IFREG
        sizeBytes = UInt64(clamping: info.st_size)
        ownerID = info.st_uid
        linkCount = UInt64(info.st_nlink)
        mode = info.st_mode & 0o7777
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }

    /// The facts of `path` itself (a symbolic link is not followed), nil when it does not exist.
    public static func ofLink(_ path: String) -> DescriptorFacts? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return DescriptorFacts(info)
    }

    /// Whether both describe the same file.
    public func isSameFile(as other: DescriptorFacts) -> Bool { device == other.device && inode == other.inode }
}
