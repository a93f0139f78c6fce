import Synchronization

/// A file this client serves in a group: where it is and which pieces it holds (all of them
/// for an upload, the verified ones for a download in progress).
public struct Share: Sendable {
    /// The group it is shared in.
    public var groupID: String
    /// Its name in the group.
    public var fileName: String
    /// Where its bytes are on disk (a download's temporary file while it runs).
    public var path: String
    /// Its size.
    public var sizeBytes: UInt64
    /// The pieces held, as a `PieceBitfield`.
    public var pieces: [UInt8]
    /// For a download in progress, its open temporary file: pieces are read through this
    /// descriptor, never by path, so a file swapped in at the path is never served.
    public var file: PieceFile?

    /// Makes a share.
    public init(groupID: String, fileName: String, path: String, sizeBytes: UInt64, pieces: [UInt8], file: PieceFile? = nil) {
        self.groupID = groupID
        self.fileName = fileName
        self.path = path
        self.sizeBytes = sizeBytes
        self.pieces = pieces
        self.file = file
    }

    /// Pieces of the file (rounded up; no overflow for any size).
    public var pieceCount: Int {
        let piece = UInt64(TransferLimits.pieceSizeBytes)
        return Int(clamping: sizeBytes / piece + (sizeBytes % piece == 0 ? 0 : 1))
    }
}

extension Share: Equatable {
    /// Equal fields, and the same open file (by identity) if any.
    public static func == (lhs: Share, rhs: Share) -> Bool {
        lhs.groupID == rhs.groupID && lhs.fileName == rhs.fileName && lhs.path == rhs.path
            && lhs.sizeBytes == rhs.sizeBytes && lhs.pieces == rhs.pieces && lhs.file === rhs.file
    }
}

/// What the peer server serves, shared by the command loop, the downloads and the server.
public final class ShareRegistry: Sendable {
    private struct Key: Hashable { var groupID: String; var fileName: String }
    private let shares = Mutex<[Key: Share]>([:])

    /// An empty registry.
    public init() {}

    /// Serves `share` (replacing what was served under its group and name).
    public func add(_ share: Share) {
        shares.withLock { $0[Key(groupID: share.groupID, fileName: share.fileName)] = share }
    }

    /// Marks piece `index` held for a partial share; no effect if the share is gone.
    public func markPiece(groupID: String, fileName: String, index: Int) {
        shares.withLock { all in
            let key = Key(groupID: groupID, fileName: fileName)
            guard var share = all[key], index >= 0, index < share.pieceCount, index / 8 < share.pieces.count else { return }
            share.pieces[index / 8] |= 0x80 >> UInt8(index % 8)
            all[key] = share
        }
    }

    /// Stops serving one file.
    public func remove(groupID: String, fileName: String) {
        _ = shares.withLock { $0.removeValue(forKey: Key(groupID: groupID, fileName: fileName)) }
    }

    /// Stops serving every file of a group.
    public func removeGroup(_ groupID: String) {
        shares.withLock { all in all = all.filter { $0.key.groupID != groupID } }
    }

    /// Stops serving everything.
    public func removeAll() { shares.withLock { $0.removeAll() } }

    /// The share of `fileName` in `groupID`, if served.
    public func share(groupID: String, fileName: String) -> Share? {
        shares.withLock { $0[Key(groupID: groupID, fileName: fileName)] }
    }

    /// Every share, sorted by group then name.
    public func all() -> [Share] {
        shares.withLock { Array($0.values) }.sorted { ($0.groupID, $0.fileName) < ($1.groupID, $1.fileName) }
    }
}
