import Glibc

// POSIX file handling for `TLSIdentity`: private directories, checked reads, no-clobber writes.

/// Mode of a directory made for identity files: the owner only.
let identityDirectoryMode: mode_t = 0o700
/// Mode of identity files: the owner only.
let identityFileMode: mode_t = 0o600

/// Creates `path` with mode 0700 when missing; an existing one must be a directory that group
/// and others cannot write (they could replace the files in it).
func ensurePrivateDirectory(_ path: String) throws(TLSIdentityError) {
    if mkdir(path, identityDirectoryMode) == 0 { return }
    let code = errno
    guard code == EEXIST else { throw TLSIdentityError(reason: "\(path): cannot create directory: \(errnoText(code))") }
    var info = stat()
    guard stat(path, &info) == 0 else { throw TLSIdentityError(reason: "\(path): \(errnoText(errno))") }
    guard info.st_mode & S_IFMT == S_IFDIR else { throw TLSIdentityError(reason: "\(path): not a directory") }
    guard info.st_mode & 0o022 == 0 else {
        throw TLSIdentityError(reason: "\(path): writable by group or others (mode \(octal(info.st_mode))); run chmod 700 on it")
    }
}

/// Reads an identity file, or nil when it does not exist. Refuses symbolic links, anything
/// but a regular file, files above `TLSLimits.identityFileBytesMax`, and, for a secret,
/// files not owned by this user or with any group or other permission bit.
func readIdentityFile(_ path: String, isSecret: Bool) throws(TLSIdentityError) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
    guard fd >= 0 else {
        let code = errno
        if code == ENOENT { return nil }
        if code == ELOOP { throw TLSIdentityError(reason: "\(path): is a symbolic link") }
        throw TLSIdentityError(reason: "\(path): cannot open: \(errnoText(code))")
    }
    defer { _ = close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw TLSIdentityError(reason: "\(path): \(errnoText(errno))") }
    guard info.st_mode & S_IFMT == S_IFREG else { throw TLSIdentityError(reason: "\(path): not a regular file") }
    if isSecret {
        guard info.st_uid == geteuid() else { throw TLSIdentityError(reason: "\(path): owned by another user (uid \(info.st_uid))") }
        guard info.st_mode & 0o077 == 0 else {
            throw TLSIdentityError(reason: "\(path): readable by group or others (mode \(octal(info.st_mode))); run chmod 600 on it")
        }
    }
    guard info.st_size <= TLSLimits.identityFileBytesMax else {
        throw TLSIdentityError(reason: "\(path): larger than \(TLSLimits.identityFileBytesMax) bytes")
    }
    return try readAll(fd, path: path)
}

private func readAll(_ fd: Int32, path: String) throws(TLSIdentityError) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: TLSLimits.identityFileBytesMax + 1)
    var total = 0
    var interrupts = 0
    while total < bytes.count {
        let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, $0.count - total) }
        if count == 0 { break }
        if count < 0 {
            let code = errno
            interrupts += 1
            if code == EINTR, interrupts < NetworkingLimits.interruptRetriesMax { continue }
            throw TLSIdentityError(reason: "\(path): cannot read: \(errnoText(code))")
        }
        total += count
    }
    guard total <= TLSLimits.identityFileBytesMax else {
        throw TLSIdentityError(reason: "\(path): larger than \(TLSLimits.identityFileBytesMax) bytes")
    }
    return Array(bytes.prefix(total))
}

/// Writes `bytes` as the new file `path` (mode 0600) unless `path` exists: through a
/// temporary file opened O_CREAT|O_EXCL|O_NOFOLLOW, synced, then hard-linked to `path` (which
/// never replaces an existing file) and the directory synced. Returns false when `path`
/// already existed (another process made it first).
func createFile(_ path: String, bytes: [UInt8], directory: String) throws(TLSIdentityError) -> Bool {
    let temporary = path + ".new"
    if unlink(temporary) != 0, errno != ENOENT {
        throw TLSIdentityError(reason: "\(temporary): cannot remove stale file: \(errnoText(errno))")
    }
    let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, identityFileMode)
    guard fd >= 0 else { throw TLSIdentityError(reason: "\(temporary): cannot create: \(errnoText(errno))") }
    defer { _ = unlink(temporary) }
    do {
        defer { _ = close(fd) }
        guard fchmod(fd, identityFileMode) == 0 else { throw TLSIdentityError(reason: "\(temporary): chmod: \(errnoText(errno))") }
        try writeAll(fd, bytes: bytes, path: temporary)
        guard fsync(fd) == 0 else { throw TLSIdentityError(reason: "\(temporary): fsync: \(errnoText(errno))") }
    }
    guard link(temporary, path) == 0 else {
        let code = errno
        if code == EEXIST { return false }
        throw TLSIdentityError(reason: "\(path): cannot create: \(errnoText(code))")
    }
    _ = unlink(temporary)
    let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard directoryFD >= 0 else { throw TLSIdentityError(reason: "\(directory): cannot open: \(errnoText(errno))") }
    defer { _ = close(directoryFD) }
    guard fsync(directoryFD) == 0 else { throw TLSIdentityError(reason: "\(directory): fsync: \(errnoText(errno))") }
    return true
}

private func writeAll(_ fd: Int32, bytes: [UInt8], path: String) throws(TLSIdentityError) {
    var offset = 0
    var interrupts = 0
    while offset < bytes.count {
        let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if count > 0 {
            offset += count
            continue
        }
        let code = count == 0 ? EIO : errno
        interrupts += 1
        if code == EINTR, interrupts < NetworkingLimits.interruptRetriesMax { continue }
        throw TLSIdentityError(reason: "\(path): cannot write: \(errnoText(code))")
    }
}

private func octal(_ mode: mode_t) -> String {
    let text = String(mode & 0o777, radix: 8)
    return String(repeating: "0", count: max(0, 4 - text.count)) + text
}
