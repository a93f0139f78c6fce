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
/// files it shares. Written atomically (temporary file, fsync, rename).
struct LocalStore {
    let directory: String

    init(directory: String) { self.directory = directory }

    /// Creates the folder if needed.
    func createDirectory() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    private func path(for userID: String) -> String {
        directory + "/shares-" + Hex.encode(Array(userID.utf8)) + ".json"
    }

    func shares(of userID: String) -> [StoredShare] {
        guard let data = FileManager.default.contents(atPath: path(for: userID)) else { return [] }
        return (try? JSONDecoder().decode([StoredShare].self, from: data)) ?? []
    }

    func save(_ shares: [StoredShare], of userID: String) throws {
        let target = path(for: userID)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(shares.sorted { ($0.groupID, $0.fileName) < ($1.groupID, $1.fileName) })
        let temporary = target + ".tmp"
        let file = try PieceFile.openForWriting(temporary)
        try file.truncate(to: 0)
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
