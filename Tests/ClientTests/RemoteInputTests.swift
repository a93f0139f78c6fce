import Foundation
import PeerTransfer
import Testing
import TrackerStateMachine

/// The boundary checks of what a tracker or a peer sends, and the log escaping, in process.
@Suite("remote input checks")
struct RemoteInputTests {
    static let piece = UInt64(TransferLimits.pieceSizeBytes)

    /// Metadata of `pieceCount` pieces (the last one short by 5 bytes) with consistent hashes.
    static func metadata(pieceCount: Int, name: String = "f.bin") -> FileMetadata {
        let size = pieceCount == 0 ? 0 : UInt64(pieceCount) * piece - 5
        return FileMetadata(name: name, sizeBytes: size, pieceSizeBytes: UInt32(piece),
                            pieceHashes: [UInt8](repeating: 7, count: pieceCount * 20), fileHash: [UInt8](repeating: 9, count: 20))
    }

    static func info(_ metadata: FileMetadata, peers: [PeerInfo] = []) -> DownloadInfo {
        DownloadInfo(metadata: metadata, peers: peers)
    }

    /// The error message of validating `info` for f.bin, or nil when it passed.
    static func refusal(_ info: DownloadInfo, fileName: String = "f.bin") -> String? {
        do {
            _ = try DownloadInfoCheck.validate(info, fileName: fileName)
            return nil
        } catch {
            return error.description
        }
    }

    @Test("consistent metadata and peers pass, for empty, one-piece and many-piece files")
    func consistentMetadataPasses() {
        for count in [0, 1, 3, 100] {
            let m = Self.metadata(pieceCount: count)
            let peer = PeerInfo(userID: "alice", peerAddress: "127.0.0.1:9001", pieces: PieceBitfield.complete(pieceCount: count))
            #expect(Self.refusal(Self.info(m, peers: [peer])) == nil, "\(count) pieces")
        }
    }

    @Test("short, long and odd piece-hash lists are refused with a message, never a trap")
    func hashListMismatch() throws {
        var short = Self.metadata(pieceCount: 4)
        short.pieceHashes.removeLast(20)
        #expect(Self.refusal(Self.info(short))?.contains("piece hashes for 4 pieces") == true)
        var long = Self.metadata(pieceCount: 4)
        long.pieceHashes += [UInt8](repeating: 1, count: 20)
        #expect(Self.refusal(Self.info(long)) != nil)
        var odd = Self.metadata(pieceCount: 4)
        odd.pieceHashes.removeLast(3)
        #expect(Self.refusal(Self.info(odd)) != nil)
        var badFileHash = Self.metadata(pieceCount: 1)
        badFileHash.fileHash = [1, 2, 3]
        #expect(Self.refusal(Self.info(badFileHash))?.contains("file hash") == true)
    }

    @Test("huge sizes, a size that does not match the piece count, and a foreign piece size are refused")
    func sizeMismatch() {
        for size: UInt64 in [.max, .max - 1, UInt64(Int64.max) + 1, TransferLimits.fileSizeBytesMax + 1] {
            var m = Self.metadata(pieceCount: 2)
            m.sizeBytes = size
            #expect(Self.refusal(Self.info(m))?.contains("is above") == true, "size \(size)")
        }
        var moreBytes = Self.metadata(pieceCount: 2)
        moreBytes.sizeBytes = 2 * Self.piece + 1
        #expect(Self.refusal(Self.info(moreBytes))?.contains("for 3 pieces") == true)
        var pieceSize = Self.metadata(pieceCount: 2)
        pieceSize.pieceSizeBytes = 1
        #expect(Self.refusal(Self.info(pieceSize))?.contains("piece size") == true)
        pieceSize.pieceSizeBytes = 0
        #expect(Self.refusal(Self.info(pieceSize))?.contains("piece size") == true)
        #expect(Self.refusal(Self.info(Self.metadata(pieceCount: 1, name: "other.bin"))) != nil, "an answer for another file")
        #expect(Self.refusal(Self.info(Self.metadata(pieceCount: 1, name: "a\u{1b}b")), fileName: "a\u{1b}b") != nil)
    }

    @Test("a peer with a bad user id, address or bitfield, or too many peers, is refused")
    func badPeers() {
        let m = Self.metadata(pieceCount: 9)
        let good = PeerInfo(userID: "bob", peerAddress: "10.0.0.2:7000", pieces: PieceBitfield.complete(pieceCount: 9))
        var badUser = good
        badUser.userID = "bo\nb"
        var badAddress = good
        badAddress.peerAddress = "nowhere"
        var shortBits = good
        shortBits.pieces = [0xFF]
        var spareBits = good
        spareBits.pieces = [0xFF, 0xFF]
        for peer in [badUser, badAddress, shortBits, spareBits] {
            #expect(Self.refusal(Self.info(m, peers: [good, peer]))?.contains("entry 1") == true, "\(peer)")
        }
        let crowd = Array(repeating: good, count: TransferLimits.peersPerAnswerMax + 1)
        #expect(Self.refusal(Self.info(m, peers: crowd)) != nil)
    }

    @Test("share piece counts and resume checks never trap on sizes or hash lists that do not fit")
    func noTrapsDownstream() throws {
        let share = Share(groupID: "g", fileName: "f", path: "/nonexistent", sizeBytes: .max, pieces: [])
        #expect(share.pieceCount > 0)
        let registry = ShareRegistry()
        registry.add(share)
        registry.markPiece(groupID: "g", fileName: "f", index: 3)
        #expect(registry.share(groupID: "g", fileName: "f")?.pieces == [], "no bit set past the bitfield")
        let scheduler = PieceScheduler(pieceCount: 4, have: [true])
        #expect(scheduler.done == [true, false, false, false])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("verify-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = try makeRandomFile(in: directory, name: "f", byteCount: 1_000)
        let tooManyHashes = [UInt8](repeating: 0, count: 5 * 20)
        #expect(FileHashing.verifiedPieces(ofFileAt: path, pieceHashes: tooManyHashes, sizeBytes: 1_000).count == 1)
        #expect(FileHashing.verifiedPieces(ofFileAt: path, pieceHashes: [], sizeBytes: 3 * Self.piece) == [false, false, false])
    }
}

extension RemoteInputTests {
    @Test("peer messages are checked against what is expected: names, bitfields, indexes, kinds")
    func peerMessages() {
        typealias C = PeerMessageCheck
        #expect(C.violation(of: .open(userID: "bob", groupID: "g"), expecting: .open) == nil)
        #expect(C.violation(of: .open(userID: "b\u{1b}[2Jb", groupID: "g"), expecting: .open)?.contains("control") == true)
        #expect(C.violation(of: .open(userID: String(repeating: "u", count: 65), groupID: "g"), expecting: .open) != nil)
        #expect(C.violation(of: .open(userID: "bob", groupID: "a/b"), expecting: .open) != nil)
        #expect(C.violation(of: .opened, expecting: .open) != nil, "anything but open first is refused")
        #expect(C.violation(of: .request(groupID: "g", fileName: "f", index: 3), expecting: .request) == nil)
        #expect(C.violation(of: .request(groupID: "g", fileName: "../x", index: 3), expecting: .request) != nil)
        #expect(C.violation(of: .request(groupID: "g", fileName: "f", index: .max), expecting: .request) != nil)
        #expect(C.violation(of: .bitfieldRequest(fileName: ".."), expecting: .request) != nil)
        #expect(C.violation(of: .piece(index: 0, bytes: []), expecting: .request) != nil)
        #expect(C.violation(of: .opened, expecting: .openAnswer) == nil)
        #expect(C.violation(of: .reject(reason: "no"), expecting: .openAnswer) == nil)
        #expect(C.violation(of: .bitfield(fileName: "f", pieces: []), expecting: .openAnswer) != nil)
        let bits = C.Expectation.bitfield(fileName: "f", pieceCount: 9)
        #expect(C.violation(of: .bitfield(fileName: "f", pieces: [0xFF, 0x80]), expecting: bits) == nil)
        #expect(C.violation(of: .bitfield(fileName: "f", pieces: [0xFF, 0xC0]), expecting: bits) != nil, "a bit past the end")
        #expect(C.violation(of: .bitfield(fileName: "f", pieces: [0xFF]), expecting: bits) != nil, "too short")
        #expect(C.violation(of: .bitfield(fileName: "g", pieces: [0xFF, 0x80]), expecting: bits) != nil, "another file")
        #expect(C.violation(of: .piece(index: 4, bytes: [1]), expecting: .piece(index: 4)) == nil)
        #expect(C.violation(of: .piece(index: 5, bytes: [1]), expecting: .piece(index: 4)) != nil)
        #expect(C.violation(of: .reject(reason: "busy"), expecting: .piece(index: 4)) == nil)
    }

    @Test("remote text in a log value cannot end the line, forge a key or carry a terminal escape")
    func logEscaping() {
        #expect(logSafe("alice") == "alice")
        #expect(logSafe("a\nb") == "a\\nb")
        #expect(logSafe("evil\r\nlevel=error forged=1") == "\"evil\\r\\nlevel=error forged=1\"")
        #expect(logSafe("\u{1b}[31mred") == "\\u{1b}[31mred")
        #expect(logSafe("say \"hi\"\\") == "\"say \\\"hi\\\"\\\\\"")
        #expect(logSafe("") == "\"\"")
        #expect(logSafe("bidi\u{202E}txt\u{85}\u{2028}") == "bidi\\u{202e}txt\\u{85}\\u{2028}")
        let long = logSafe(String(repeating: "x", count: 10_000))
        #expect(long.count == TransferLimits.logTextCharactersMax + 1)
        for text in ["a\u{0}b", "\u{7f}", "x\u{9b}y", "tab\there"] {
            let escaped = logSafe(text)
            #expect(!escaped.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }, "\(escaped)")
        }
        #expect(escapeControlCharacters("a b\u{7}") == "a b\\u{7}", "display text keeps spaces, escapes the bell")
    }
}
