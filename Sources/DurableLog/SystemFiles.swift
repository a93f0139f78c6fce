import Glibc
import Synchronization

/// One call that changes a file, as the test journal records it.
enum FileOperation: Equatable, Sendable {
    case write(path: String, offset: Int, byteCount: Int)
    case truncate(path: String, length: Int)
    case sync(path: String)
    case rename(from: String, to: String)
    case remove(path: String)
}

/// Tests switch this on to see the order of the store's file calls (crash-consistency rules
/// are about that order); nil in production.
let fileJournal = Mutex<[FileOperation]?>(nil)

private func journal(_ operation: FileOperation) {
    fileJournal.withLock { ops in ops?.append(operation) }
}

/// Thin wrappers over the POSIX file calls the log needs: each retries `EINTR`, loops partial
/// reads and writes, and turns failures into `DurableLogError`s carrying the path and errno text.
enum SystemFiles {
    /// Bytes read per `read` call when loading a file.
    static let readChunkBytes = 1 << 20

    static func failure(_ operation: String, _ path: String, errno code: Int32 = errno) -> DurableLogError {
        let text = String(cString: strerror(code))
        return DurableLogError(.system(operation: operation, errno: code), path: path, reason: "\(operation) failed: \(text)")
    }

    /// Runs `call` until it does not fail with EINTR.
    static func retrying<T: BinaryInteger>(_ call: () -> T) -> T {
        while true {
            let result = call()
            if result != -1 || errno != EINTR { return result }
        }
    }

    static func open(_ path: String, flags: Int32, mode: mode_t = 0o644) throws -> Int32 {
        let fd = retrying { Glibc.open(path, flags | O_CLOEXEC, mode) }
        guard fd >= 0 else { throw failure("open", path) }
        return fd
    }

    static func close(_ fd: Int32) {
        // close is not retried on EINTR: on Linux the descriptor is released either way.
        _ = Glibc.close(fd)
    }

    /// Writes every byte of `bytes` at `offset`.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int, path: String) throws {
        journal(.write(path: path, offset: offset, byteCount: bytes.count))
        try bytes.withUnsafeBytes { buffer in
            var written = 0
            while written < buffer.count {
                let result = retrying {
                    pwrite(fd, buffer.baseAddress! + written, buffer.count - written, off_t(offset + written))
                }
                guard result > 0 else { throw failure("pwrite", path) }
                written += result
            }
        }
    }

    /// Reads the whole file at `path`; returns nil when it does not exist.
    static func readAll(_ path: String) throws -> [UInt8]? {
        let fd = retrying { Glibc.open(path, O_RDONLY | O_CLOEXEC) }
        if fd < 0, errno == ENOENT { return nil }
        guard fd >= 0 else { throw failure("open", path) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw failure("fstat", path) }
        // Read straight into a buffer of the file's size (a snapshot can be hundreds of MiB).
        var bytes = try [UInt8](unsafeUninitializedCapacity: Int(status.st_size)) { buffer, initialized in
            initialized = 0
            while initialized < buffer.count {
                let count = retrying { read(fd, buffer.baseAddress! + initialized, buffer.count - initialized) }
                guard count >= 0 else { throw failure("read", path) }
                if count == 0 { break }
                initialized += count
            }
        }
        var chunk = [UInt8](repeating: 0, count: readChunkBytes)
        while true { // the file may have grown since fstat
            let count = chunk.withUnsafeMutableBytes { buffer in retrying { read(fd, buffer.baseAddress, buffer.count) } }
            guard count >= 0 else { throw failure("read", path) }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
        }
    }

    static func syncData(_ fd: Int32, path: String) throws {
        journal(.sync(path: path))
        guard retrying({ fdatasync(fd) }) == 0 else { throw failure("fdatasync", path) }
    }

    static func syncAll(_ fd: Int32, path: String) throws {
        journal(.sync(path: path))
        guard retrying({ fsync(fd) }) == 0 else { throw failure("fsync", path) }
    }

    static func truncate(_ fd: Int32, toBytes length: Int, path: String) throws {
        journal(.truncate(path: path, length: length))
        guard retrying({ ftruncate(fd, off_t(length)) }) == 0 else { throw failure("ftruncate", path) }
    }

    static func rename(_ from: String, to: String) throws {
        journal(.rename(from: from, to: to))
        guard Glibc.rename(from, to) == 0 else { throw failure("rename to \(to)", from) }
    }

    /// Removes `path`; a file that is already gone is not an error.
    static func remove(_ path: String) throws {
        journal(.remove(path: path))
        guard unlink(path) == 0 || errno == ENOENT else { throw failure("unlink", path) }
    }

    /// Creates `path` and any missing parents; returns whether the last component was created.
    static func makeDirectories(_ path: String) throws -> Bool {
        var prefix = path.hasPrefix("/") ? "/" : ""
        var created = false
        for component in path.split(separator: "/") {
            prefix += prefix.isEmpty || prefix.hasSuffix("/") ? String(component) : "/" + component
            created = mkdir(prefix, 0o755) == 0
            guard created || errno == EEXIST else { throw failure("mkdir", prefix) }
        }
        return created
    }

    /// The names in a directory, sorted, without "." and "..".
    static func list(_ path: String) throws -> [String] {
        guard let directory = opendir(path) else { throw failure("opendir", path) }
        defer { closedir(directory) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                guard errno == 0 else { throw failure("readdir", path) }
                return names.sorted()
            }
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != ".", name != ".." { names.append(name) }
        }
    }
}
