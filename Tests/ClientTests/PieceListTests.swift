import Hashing
import PeerTransfer
import Testing
import TrackerStateMachine

/// Metadata of files too large for their piece hashes to travel through the tracker.
@Suite("detached piece lists")
struct PieceListTests {
    /// The digests of a 40 GiB file, with a generated hash list (81,920 pieces).
    static func fortyGiB() -> FileDigests {
        let pieceCount = 81_920
        var hashes = [UInt8](repeating: 0, count: pieceCount * 20)
        for index in 0..<hashes.count { hashes[index] = UInt8(truncatingIfNeeded: index &* 2_654_435_761 >> 7) }
        return FileDigests(sizeBytes: 40 << 30, pieceHashes: hashes, fileHash: [UInt8](repeating: 9, count: 20))
    }

    @Test("a 40 GiB file uploads the SHA-256 of its hash list, which a downloader accepts and resolves")
    func fortyGiBMetadata() {
        let digests = Self.fortyGiB()
        let metadata = PieceList.uploadMetadata(name: "big.iso", digests: digests)
        #expect(metadata.pieceHashes.isEmpty && metadata.pieceListDigest == SHA256.hash(digests.pieceHashes))
        #expect(metadata.pieceCount == 81_920)
        #expect(metadata.violation(limits: .standard) == nil, "the tracker takes it")
        #expect(DownloadInfoCheck.violation(of: metadata, expectedName: "big.iso") == nil, "a downloader takes it")
        let full = PieceList.resolved(metadata, with: digests.pieceHashes)
        #expect(full?.pieceHashes == digests.pieceHashes && full?.pieceHash(at: 81_919) == digests.pieceHashes[(81_919 * 20)...])
        var forged = digests.pieceHashes
        forged[123_456] ^= 1
        #expect(PieceList.resolved(metadata, with: forged) == nil, "one flipped bit")
        #expect(PieceList.resolved(metadata, with: Array(digests.pieceHashes.dropLast(20))) == nil, "one hash short")
    }

    @Test("small files keep their hashes inline; the bound is the tracker's")
    func inlineBound() {
        let piece = [UInt8](repeating: 1, count: 20)
        let atBound = FileDigests(sizeBytes: UInt64(TransferLimits.inlinePieceHashesMax) * UInt64(TransferLimits.pieceSizeBytes),
                                  pieceHashes: Array((0..<TransferLimits.inlinePieceHashesMax).map { _ in piece }.joined()),
                                  fileHash: piece)
        let inline = PieceList.uploadMetadata(name: "f", digests: atBound)
        #expect(!inline.hasDetachedPieceList && inline.violation(limits: .standard) == nil)
        #expect(TransferLimits.inlinePieceHashesMax * 20 == Limits.standard.pieceHashesInlineBytesMax)
        #expect(TransferLimits.piecesPerFileMax == Limits.standard.piecesPerFileMax)
        let forced = PieceList.uploadMetadata(name: "f", digests: atBound, inlineMax: 0)
        #expect(forced.hasDetachedPieceList && forced.violation(limits: .standard) == nil)
        #expect(PieceList.resolved(inline, with: atBound.pieceHashes) == nil, "inline metadata needs no list")
    }
}
