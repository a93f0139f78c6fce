import Testing
@testable import TrackerStateMachine

/// Files whose piece hashes do not fit one replicated command: the metadata carries the
/// SHA-256 of the hash list instead (`pieceListDigest`).
@Suite("Large files")
struct LargeFileTests {
    /// 40 GiB of 512 KiB pieces: 81,920 pieces, 1.6 MB of piece hashes.
    static let fortyGiB: UInt64 = 40 << 30

    static func detached(_ name: String, sizeBytes: UInt64 = fortyGiB, digestByte: UInt8 = 7) -> FileMetadata {
        FileMetadata(name: name, sizeBytes: sizeBytes, pieceSizeBytes: Limits.standard.pieceSizeBytes, pieceHashes: [],
                     fileHash: [UInt8](repeating: 3, count: 20), pieceListDigest: [UInt8](repeating: digestByte, count: 32))
    }

    @Test("a 40 GiB file's metadata uploads in a command of under a kilobyte, and downloaders get its digest")
    func fortyGiBUploads() {
        var (h, a, b, _) = FileTests.setUp()
        let m = Self.detached("big.iso")
        #expect(m.pieceCount == 81_920)
        let command = TrackerCommand.uploadFile(tokenHash: a, groupID: "g1", metadata: m)
        #expect(CommandEnvelope(clientID: 1, sequence: 1, command: command).encode().count < 1_024, "far below Raft's 1 MiB entry limit")
        var expected = h.state
        h.ok(command)
        expected.groups["g1"]!.files["big.iso"] = StoredFile(metadata: m, sharers: [Sharer(userID: "alice", pieces: PieceBitfield.complete(pieceCount: 81_920))])
        #expect(h.state == expected)
        guard case let .ok(.download(info)) = h.query(.downloadInfo(tokenHash: b, groupID: "g1", fileName: "big.iso")) else {
            Issue.record("no download info")
            return
        }
        #expect(info.metadata == m && info.metadata.hasDetachedPieceList)
        h.ok(.uploadFile(tokenHash: b, groupID: "g1", metadata: m))
        h.refused(.uploadFile(tokenHash: b, groupID: "g1", metadata: Self.detached("big.iso", digestByte: 8)), .fileConflict)
        h.ok(.announcePieces(tokenHash: b, groupID: "g1", fileName: "big.iso", pieces: PieceBitfield.complete(pieceCount: 81_920)))
    }

    @Test("a snapshot keeps a detached digest, and inline metadata encodes exactly as before")
    func snapshotAndEncoding() throws {
        var (h, a, _, _) = FileTests.setUp()
        h.ok(.uploadFile(tokenHash: a, groupID: "g1", metadata: Self.detached("big.iso")))
        h.ok(.uploadFile(tokenHash: a, groupID: "g1", metadata: meta("small", pieces: 3)))
        let restored = try TrackerStateMachine.restore(h.machine.snapshot())
        #expect(restored == h.machine)
        #expect(restored.state.groups["g1"]!.files["big.iso"]!.metadata.pieceListDigest == [UInt8](repeating: 7, count: 32))
        // Inline: name, size, piece size, the hashes, then a 20-byte file-hash field, as before.
        // (metadata is the last field of an upload command.)
        let small = meta("s", pieces: 2)
        let smallBytes = CommandEnvelope(clientID: 1, sequence: 1, command: .uploadFile(tokenHash: a, groupID: "g1", metadata: small)).encode()
        #expect(Array(smallBytes.suffix(4 + 40 + 4 + 20)) == [0, 0, 0, 40] + small.pieceHashes + [0, 0, 0, 20] + small.fileHash)
        let bigBytes = CommandEnvelope(clientID: 1, sequence: 1, command: .uploadFile(tokenHash: a, groupID: "g1", metadata: Self.detached("b"))).encode()
        #expect(Array(bigBytes.suffix(60)) == [0, 0, 0, 0] + [0, 0, 0, 52] + [UInt8](repeating: 3, count: 20) + [UInt8](repeating: 7, count: 32))
        #expect(try CommandEnvelope.decode(bigBytes).command == .uploadFile(tokenHash: a, groupID: "g1", metadata: Self.detached("b")))
    }

    @Test("inline hashes above the bound, a digest with hashes, a short digest or an empty detached file are refused")
    func refusals() {
        var (h, a, _, _) = FileTests.setUp()
        let inlineMax = Limits.standard.pieceHashesInlineBytesMax / Limits.sha1Bytes
        h.ok(.uploadFile(tokenHash: a, groupID: "g1", metadata: meta("at-bound", pieces: inlineMax)))
        h.refused(.uploadFile(tokenHash: a, groupID: "g1", metadata: meta("above", pieces: inlineMax + 1)), .invalidInput)
        var withHashes = Self.detached("x", sizeBytes: 3 << 19)
        withHashes.pieceHashes = [UInt8](repeating: 1, count: 60)
        let empty = Self.detached("z", sizeBytes: 0)
        var tooLarge = Self.detached("w")
        tooLarge.sizeBytes = Limits.standard.fileSizeBytesMax + 1
        for bad in [withHashes, empty, tooLarge] {
            h.refused(.uploadFile(tokenHash: a, groupID: "g1", metadata: bad), .invalidInput)
        }
        // No encoding carries a digest of another length (the hash field is 20 or 20 + 32
        // bytes), but a value made in memory is checked all the same.
        var shortDigest = Self.detached("y")
        shortDigest.pieceListDigest = [1, 2, 3]
        #expect(shortDigest.violation(limits: .standard) != nil)
        #expect(Limits.standard.fileSizeBytesMax >= Self.fortyGiB)
    }
}
