import Foundation
import Hashing
import PeerTransfer

/// A file this user shares, as remembered in the state directory.
struct StoredShare: Codable, Equatable {
    var groupID: String
    var fileName: String
    var path: String
    var sizeBytes: UInt64
    var modifiedNanos: Int64
    var fileHashHex: String
    var pieceHashesHex: String
}

/// The client's state directory: for each user (file name is the hex of the user id), the
/// files it shares. Written atomically (temporary file, fsync, rename). The directory is 0700
/// and every file 0600: it says which files a user shares and where they are. No session token
/// or password is ever written here (the token lives in memory only).
struct LocalStore {
    /// Permission bits of the directory and of its files.
    static let directoryMode: mode_t = 0o700
    static let fileMode: mode_t = 0o600

    let directory: String

    init(directory: String) { self.directory = directory }

    /// Creates the folder (0700) if needed; an existing one of this user is narrowed to 0700,
    /// anything else (not a folder, another user's) is refused.
    func createDirectory() throws {
        let parent = (directory as NSString).deletingLastPathComponent
        if !parent.isEmpty { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
        if mkdir(directory, Self.directoryMode) != 0 && errno != EEXIST { throw FileError("create state directory \(directory)") }
        var info = stat()
        guard stat(directory, &info) == 0 else { throw FileError("stat state directory \(directory)") }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw CommandError("state directory \(directory) is not a folder") }
        guard info.st_uid == geteuid() else { throw CommandError("state directory \(directory) belongs to another user") }
        if info.st_mode & 0o777 != Self.directoryMode, chmod(directory, Self.directoryMode) != 0 {
            throw FileError("chmod state directory \(directory)")
        }
    }

    private func path(for userID: String) -> String {
        directory + "/shares-" + Hex.encode(Array(userID.utf8)) + ".json"
    }

    func shares(of userID: String) -> [StoredShare] {
        let path = path(for: userID)
        guard let facts = FileFacts.of(path), facts.isRegular, facts.sizeBytes <= ClientLimits.stateFileBytesMax,
              let data = FileManager.default.contents(atPath: path) else { return [] }
        return (try? JSONDecoder().decode([StoredShare].self, from: data)) ?? []
    }

    func save(_ shares: [StoredShare], of userID: String) throws {
        let target = path(for: userID)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(shares.sorted { ($0.groupID, $0.fileName) < ($1.groupID, $1.fileName) })
        let temporary = target + ".tmp"
        // A stale temporary file (a crash mid-save) or anything planted there goes first; the
        // new one is created exclusively, never through a link.
        if unlink(temporary) != 0 && errno != ENOENT { throw FileError("remove \(temporary)") }
        let file = try PieceFile.createNew(temporary, mode: Self.fileMode)
        try file.write(Array(data), at: 0)
        try file.sync()
        guard rename(temporary, target) == 0 else { throw FileError("rename \(temporary)") }
    }

    /// Adds or replaces a share of `userID`.
    func remember(_ share: StoredShare, of userID: String) throws {
        var all = shares(of: userID).filter { !($0.groupID == share.groupID && $0.fileName == share.fileName) }
        all.append(share)
        try save(all, of: userID)
    }

    /// Forgets shares of `userID` matching `predicate`.
    func forget(of userID: String, where predicate: (StoredShare) -> Bool) throws {
        let all = shares(of: userID)
        let kept = all.filter { !predicate($0) }
        if kept.count != all.count { try save(kept, of: userID) }
    }
}
