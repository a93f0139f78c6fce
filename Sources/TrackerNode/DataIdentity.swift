import Foundation
import Hashing

/// The identity of a data directory (KIP-853's directory id): the tracker id it belongs to and
/// a random incarnation made when the directory is first used. Every Raft message carries the
/// incarnation; once the leader has pinned it in the configuration, a tracker that comes back
/// under the same id with an empty directory (so a new incarnation, and no memory of its votes)
/// is refused as that member until an operator removes it and adds it back as a new learner.
struct DataIdentity: Equatable {
    var trackerID: UInt64
    var incarnation: UInt64

    static let fileName = "identity"
    static let header = "tracker-identity 1"
    /// Largest identity file read.
    static let fileBytesMax = 256

    /// The text stored: `tracker-identity 1`, `id <n>`, `incarnation <16 hex digits>`.
    var text: String {
        let hex = String(incarnation, radix: 16)
        return "\(Self.header)\nid \(trackerID)\nincarnation \(String(repeating: "0", count: 16 - hex.count) + hex)\n"
    }

    /// Parses `text`, or nil when it is not exactly that form (incarnation nonzero).
    static func parse(_ text: String) -> DataIdentity? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count == 4, lines[0] == header, lines[3].isEmpty,
              lines[1].hasPrefix("id "), let id = UInt64(lines[1].dropFirst(3)), id > 0,
              lines[2].hasPrefix("incarnation "), lines[2].count == 12 + 16,
              let incarnation = UInt64(lines[2].dropFirst(12), radix: 16), incarnation != 0 else { return nil }
        return DataIdentity(trackerID: id, incarnation: incarnation)
    }

    /// The identity of `directory`, made (and fsynced) on first use. A file that does not parse,
    /// or belongs to another tracker id, is an error the caller reports before starting.
    static func loadOrCreate(directory: String, trackerID: UInt64) throws(IdentityError) -> (identity: DataIdentity, isNew: Bool) {
        let path = directory + "/" + fileName
        if let data = FileManager.default.contents(atPath: path) {
            guard data.count <= fileBytesMax, let identity = parse(String(decoding: data, as: UTF8.self)) else {
                throw IdentityError("\(path): not a tracker identity file; it names which tracker this directory belongs to (do not edit it)")
            }
            guard identity.trackerID == trackerID else {
                throw IdentityError("\(path): this data directory belongs to tracker \(identity.trackerID), not \(trackerID)")
            }
            return (identity, false)
        }
        var incarnation: UInt64 = 0
        for _ in 0..<4 where incarnation == 0 { incarnation = (try? SecureRandom.uint64()) ?? 0 }
        guard incarnation != 0 else { throw IdentityError("no secure random bytes for the data directory's identity") }
        let identity = DataIdentity(trackerID: trackerID, incarnation: incarnation)
        try write(identity.text, to: path)
        return (identity, true)
    }

    /// Writes `text` to a temporary file, fsyncs it, renames it into place and fsyncs the
    /// directory, so the identity survives a crash right after it was made.
    private static func write(_ text: String, to path: String) throws(IdentityError) {
        let temporary = path + ".tmp"
        let bytes = Array(text.utf8)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw IdentityError("\(temporary): cannot create: \(String(cString: strerror(errno)))") }
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        _ = close(fd)
        guard written == bytes.count, synced == 0, rename(temporary, path) == 0 else {
            throw IdentityError("\(path): cannot write: \(String(cString: strerror(errno)))")
        }
        let directory = (path as NSString).deletingLastPathComponent
        let dirFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            _ = fsync(dirFD)
            _ = close(dirFD)
        }
    }
}

/// Why the data directory's identity could not be read or made.
struct IdentityError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
