import Synchronization
import TrackerStateMachine

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
    /// The file's piece hashes (20 bytes each), served to downloaders of a file whose hash list
    /// the tracker does not hold; empty when this client does not know them (yet).
    public var pieceHashes: [UInt8]
    /// Pieces marked held since the share was added (see `ShareRegistry.markPiece`).
    public internal(set) var markCount: UInt64 = 0
    /// The last marked pieces, oldest first, at most `ShareRegistry.recentMarksMax`: mark
    /// `markCount - recentMarks.count + i` is `recentMarks[i]`.
    public internal(set) var recentMarks: [Int] = []

    /// Makes a share.
    public init(groupID: String, fileName: String, path: String, sizeBytes: UInt64, pieces: [UInt8], file: PieceFile? = nil,
                pieceHashes: [UInt8] = []) {
        self.groupID = groupID
        self.fileName = fileName
        self.path = path
        self.sizeBytes = sizeBytes
        self.pieces = pieces
        self.file = file
        self.pieceHashes = pieceHashes
    }

    /// Whether every piece is held (an upload, or a finished download).
    public var isComplete: Bool { PieceBitfield.isComplete(pieces, pieceCount: pieceCount) }

    /// The pieces marked after mark number `cursor`, in the order they were marked, and the
    /// cursor to pass next time; nil when those marks are no longer kept (compare the bitfield).
    public func marks(after cursor: UInt64) -> (pieces: [Int], cursor: UInt64)? {
        guard cursor <= markCount else { return nil }
        let wanted = markCount - cursor
        guard wanted <= UInt64(recentMarks.count) else { return nil }
        return (Array(recentMarks.suffix(Int(wanted))), markCount)
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
            && lhs.pieceHashes == rhs.pieceHashes
    }
}

/// What the peer server serves, shared by the command loop, the downloads and the server.
public final class ShareRegistry: Sendable {
    private struct Key: Hashable { var groupID: String; var fileName: String }
    private let shares = Mutex<[Key: Share]>([:])
    /// Marks a share keeps for connections that follow them (`Share.marks(after:)`).
    public static let recentMarksMax = 4_096

    /// An empty registry.
    public init() {}

    /// Serves `share` (replacing what was served under its group and name).
    public func add(_ share: Share) {
        shares.withLock { $0[Key(groupID: share.groupID, fileName: share.fileName)] = share }
    }

    /// Marks piece `index` held for a partial share (once: a piece already held is not marked
    /// again); no effect if the share is gone.
    public func markPiece(groupID: String, fileName: String, index: Int) {
        shares.withLock { all in
            let key = Key(groupID: groupID, fileName: fileName)
            guard let share = all[key], index >= 0, index < share.pieceCount, index / 8 < share.pieces.count,
                  !PieceBitfield.contains(share.pieces, piece: index) else { return }
            // In place: the share's arrays are copied only while a reader still holds them.
            all[key]!.pieces[index / 8] |= 0x80 >> UInt8(index % 8)
            all[key]!.markCount += 1
            all[key]!.recentMarks.append(index)
            if share.recentMarks.count >= Self.recentMarksMax { all[key]!.recentMarks.removeFirst(Self.recentMarksMax / 2) }
        }
    }

    /// Sets the piece hashes of a share (a download that fetched its detached hash list).
    public func setPieceHashes(groupID: String, fileName: String, pieceHashes: [UInt8]) {
        shares.withLock { all in all[Key(groupID: groupID, fileName: fileName)]?.pieceHashes = pieceHashes }
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
