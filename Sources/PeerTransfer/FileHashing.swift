import Dispatch
import Hashing
import Synchronization

/// The SHA-1s of a file: one per piece, and the whole file's.
public struct FileDigests: Equatable, Sendable {
    /// The file's size.
    public var sizeBytes: UInt64
    /// Piece hashes, 20 bytes each, concatenated.
    public var pieceHashes: [UInt8]
    /// The whole file's SHA-1.
    public var fileHash: [UInt8]

    /// Makes digests from their parts.
    public init(sizeBytes: UInt64, pieceHashes: [UInt8], fileHash: [UInt8]) {
        self.sizeBytes = sizeBytes
        self.pieceHashes = pieceHashes
        self.fileHash = fileHash
    }
}

/// Hashing files with both cores: one pass over the file in batches of pieces; for each batch
/// one thread updates the whole-file hash while another hashes its pieces. Memory stays at
/// one batch (`TransferLimits.hashBatchBytes`), never the whole file.
public enum FileHashing {
    /// Reads `path` once and returns its digests with `pieceSizeBytes` pieces. `progress`, if
    /// given, is called on this thread after each batch with the bytes hashed and the total.
    public static func digests(ofFileAt path: String, pieceSizeBytes: Int = TransferLimits.pieceSizeBytes,
                               progress: ((_ hashedBytes: UInt64, _ totalBytes: UInt64) -> Void)? = nil) throws -> FileDigests {
        let file = try PieceFile.openForReading(path)
        let size = try file.size()
        let batchBytes = max(pieceSizeBytes, TransferLimits.hashBatchBytes / pieceSizeBytes * pieceSizeBytes)
        var whole = SHA1()
        var pieceHashes = [UInt8]()
        pieceHashes.reserveCapacity(Int((size + UInt64(pieceSizeBytes) - 1) / UInt64(pieceSizeBytes)) * 20)
        var offset: UInt64 = 0
        var batch = [UInt8](repeating: 0, count: batchBytes)
        while offset < size {
            let count = Int(min(UInt64(batchBytes), size - offset))
            let complete = try batch.withUnsafeMutableBytes { try file.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<count]), at: offset) }
            guard complete else { throw FileError("read \(path): file shrank while hashing", code: 5) }
            let hashes = hashInParallel(batch, count: count, pieceSizeBytes: pieceSizeBytes, whole: &whole)
            pieceHashes.append(contentsOf: hashes)
            offset += UInt64(count)
            progress?(offset, size)
        }
        return FileDigests(sizeBytes: size, pieceHashes: pieceHashes, fileHash: whole.finalize())
    }

    /// Hashes the pieces of `batch[0..<count]` on one thread while the other updates `whole`.
    private static func hashInParallel(_ batch: [UInt8], count: Int, pieceSizeBytes: Int, whole: inout SHA1) -> [UInt8] {
        let pieces = HashBox()
        batch.withUnsafeBytes { raw in
            let region = UnsafeRawBufferPointer(rebasing: raw[0..<count])
            // The whole-file hasher is noncopyable and not Sendable, so it stays on this
            // thread; the piece hashes run on a second thread meanwhile. The batch's address
            // crosses as an integer: the buffer outlives the work because we wait for it below.
            let group = DispatchGroup()
            let address = UInt(bitPattern: region.baseAddress)
            DispatchQueue.global().async(group: group) {
                let base = UnsafeRawPointer(bitPattern: address)!
                var out = [UInt8]()
                var start = 0
                while start < count {
                    let end = min(count, start + pieceSizeBytes)
                    out.append(contentsOf: SHA1.hash(UnsafeRawBufferPointer(start: base + start, count: end - start)))
                    start = end
                }
                pieces.hashes.withLock { $0 = out }
            }
            whole.update(region)
            group.wait()
        }
        return pieces.hashes.withLock { $0 }
    }

    /// Which pieces of the file at `path` match `pieceHashes` (a missing or short file matches
    /// nothing past its end). Used to re-check a shared file.
    public static func verifiedPieces(ofFileAt path: String, pieceHashes: [UInt8], sizeBytes: UInt64,
                                      pieceSizeBytes: Int = TransferLimits.pieceSizeBytes) -> [Bool] {
        guard let file = try? PieceFile.openForReading(path) else {
            return [Bool](repeating: false, count: pieceCount(sizeBytes: sizeBytes, pieceSizeBytes: pieceSizeBytes))
        }
        return verifiedPieces(in: file, pieceHashes: pieceHashes, sizeBytes: sizeBytes, pieceSizeBytes: pieceSizeBytes)
    }

    /// Which pieces of the open `file` match `pieceHashes`: one flag per piece of a file of
    /// `sizeBytes`, whatever the length of `pieceHashes` (a piece without a 20-byte hash, or
    /// past the file's end on disk, is not verified). Used to resume a download.
    public static func verifiedPieces(in file: PieceFile, pieceHashes: [UInt8], sizeBytes: UInt64,
                                      pieceSizeBytes: Int = TransferLimits.pieceSizeBytes) -> [Bool] {
        let pieceCount = pieceCount(sizeBytes: sizeBytes, pieceSizeBytes: pieceSizeBytes)
        var result = [Bool](repeating: false, count: pieceCount)
        guard let actual = try? file.size() else { return result }
        let hashed = min(pieceCount, pieceHashes.count / 20)
        var buffer = [UInt8](repeating: 0, count: pieceSizeBytes)
        for index in 0..<hashed {
            let offset = UInt64(index) * UInt64(pieceSizeBytes)
            let length = Int(min(UInt64(pieceSizeBytes), sizeBytes - offset))
            guard offset + UInt64(length) <= actual else { break }
            let ok = (try? buffer.withUnsafeMutableBytes { try file.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<length]), at: offset) }) ?? false
            guard ok else { break }
            let hash = buffer.withUnsafeBytes { SHA1.hash(UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
            result[index] = hash[...] == pieceHashes[(index * 20)..<(index * 20 + 20)]
        }
        return result
    }

    /// Pieces of a file of `sizeBytes` (rounded up; no overflow for any size, at most
    /// `piecesPerFileMax` flags are ever made: larger sizes are refused before this).
    static func pieceCount(sizeBytes: UInt64, pieceSizeBytes: Int) -> Int {
        let piece = UInt64(max(1, pieceSizeBytes))
        return min(Int(clamping: sizeBytes / piece + (sizeBytes % piece == 0 ? 0 : 1)), TransferLimits.piecesPerFileMax)
    }
}

/// Carries the piece hashes back from the second hashing thread.
private final class HashBox: Sendable {
    let hashes = Mutex<[UInt8]>([])
}
