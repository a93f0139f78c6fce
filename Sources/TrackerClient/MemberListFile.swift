import Glibc
import Networking
import TrackerProtocol

/// Why a remembered member list was not read or not written.
public struct MemberListError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What went wrong (no file contents in it).
    public var reason: String

    /// Makes an error.
    public init(_ reason: String) { self.reason = reason }

    public var description: String { reason }
}

/// The client's remembered member list: a small text file in its state directory,
///
///     tracker-members 1
///     <id> <host>:<port> <sha256:hex | ->
///
/// one member a line, ascending unique ids. Written atomically (a new temporary file 0600,
/// fsync, rename, fsync of the folder); read back as untrusted input: at most `bytesMax`
/// bytes, `LeaderFinder.trackersMax` lines, every field checked, the file regular, owned by
/// this user and writable by nobody else. A missing file is an empty list.
enum MemberListFile {
    static let header = "tracker-members 1"
    static let bytesMax = 16 << 10
    static let fileMode: mode_t = 0o600

    static func encode(_ members: [ClusterMembers.Member]) -> String {
        let lines = members.sorted { $0.id < $1.id }.map { "\($0.id) \($0.address) \($0.fingerprint?.description ?? "-")" }
        return ([header] + lines).joined(separator: "\n") + "\n"
    }

    static func decode(_ text: String) throws(MemberListError) -> [ClusterMembers.Member] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard lines.first == Substring(header) else { throw MemberListError("not a member list (first line)") }
        lines.removeFirst()
        guard lines.count <= LeaderFinder.trackersMax else { throw MemberListError("more than \(LeaderFinder.trackersMax) members") }
        var members: [ClusterMembers.Member] = []
        for (number, line) in lines.enumerated() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            let bad = MemberListError("line \(number + 2) is not '<id> <host>:<port> <sha256:hex|->'")
            guard fields.count == 3, let id = TrackerID(fields[0]), id > 0, id > (members.last?.id ?? 0) else { throw bad }
            guard let address = try? PeerAddress.parse(String(fields[1])) else { throw bad }
            var fingerprint: CertificateFingerprint?
            if fields[2] != "-" {
                guard let parsed = try? CertificateFingerprint.parse(fields[2]) else { throw bad }
                fingerprint = parsed
            }
            members.append(ClusterMembers.Member(id: id, address: address, fingerprint: fingerprint))
        }
        return members
    }

    static func load(path: String) -> Result<[ClusterMembers.Member], MemberListError> {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            return errno == ENOENT ? .success([]) : .failure(MemberListError("cannot open \(path): errno \(errno)"))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return .failure(MemberListError("\(path) is not a regular file")) }
        guard info.st_uid == geteuid(), info.st_mode & 0o022 == 0 else {
            return .failure(MemberListError("\(path) belongs to another user or others may write it"))
        }
        guard info.st_size >= 0, info.st_size <= bytesMax else { return .failure(MemberListError("\(path) is larger than \(bytesMax) bytes")) }
        var bytes = [UInt8](repeating: 0, count: bytesMax + 1)
        var count = 0
        while count < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return .failure(MemberListError("cannot read \(path): errno \(errno)")) }
            if n == 0 { break }
            count += n
        }
        guard count <= bytesMax else { return .failure(MemberListError("\(path) is larger than \(bytesMax) bytes")) }
        guard let text = String(validating: bytes[..<count], as: UTF8.self) else { return .failure(MemberListError("\(path) is not UTF-8")) }
        return Result { () throws(MemberListError) in try decode(text) }
    }

    static func save(_ members: [ClusterMembers.Member], path: String) throws(MemberListError) {
        let bytes = Array(encode(members).utf8)
        let temporary = path + ".tmp"
        // A stale temporary file (a crash mid-save) or anything planted there goes first; the
        // new one is created exclusively, never through a link.
        guard unlink(temporary) == 0 || errno == ENOENT else { throw MemberListError("cannot remove \(temporary): errno \(errno)") }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, fileMode)
        guard fd >= 0 else { throw MemberListError("cannot create \(temporary): errno \(errno)") }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                close(fd)
                throw MemberListError("cannot write \(temporary): errno \(errno)")
            }
            written += n
        }
        let synced = fsync(fd) == 0
        close(fd)
        guard synced else { throw MemberListError("cannot fsync \(temporary): errno \(errno)") }
        guard rename(temporary, path) == 0 else { throw MemberListError("cannot rename \(temporary): errno \(errno)") }
        let folder = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let dirFD = open(folder.isEmpty ? "/" : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirFD >= 0 else { throw MemberListError("cannot open \(folder): errno \(errno)") }
        defer { close(dirFD) }
        guard fsync(dirFD) == 0 else { throw MemberListError("cannot fsync \(folder): errno \(errno)") }
    }
}
