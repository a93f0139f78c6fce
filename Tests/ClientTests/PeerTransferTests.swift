import Foundation
import Hashing
import PeerTransfer
import Testing

/// The piece protocol's decoding, the scheduler's rules and two-core file hashing, in process.
@Suite("peer transfer units")
struct PeerTransferTests {
    @Test("piece messages round-trip, and malformed payloads are errors, never traps")
    func pieceMessages() throws {
        let messages: [PieceMessage] = [
            .open(userID: "u", groupID: "g"), .opened, .reject(reason: "no"), .bitfieldRequest(fileName: "f"),
            .bitfield(fileName: "f", pieces: [0xF0]), .request(groupID: "g", fileName: "f", index: 7),
            .piece(index: 3, bytes: [1, 2, 3]),
        ]
        for message in messages {
            #expect(try PieceMessage.decode(type: message.kind.rawValue, payload: message.encodedPayload()) == message)
        }
        let request = PieceMessage.request(groupID: "g", fileName: "f", index: 7).encodedPayload()
        for cut in 0..<request.count {
            #expect(throws: (any Error).self) { try PieceMessage.decode(type: PieceMessage.Kind.request.rawValue, payload: Array(request[0..<cut])) }
        }
        #expect(throws: (any Error).self) { try PieceMessage.decode(type: 99, payload: []) }
        #expect(throws: (any Error).self) { try PieceMessage.decode(type: PieceMessage.Kind.opened.rawValue, payload: [1]) }
        let hugeName: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF]
        #expect(throws: (any Error).self) { try PieceMessage.decode(type: PieceMessage.Kind.bitfieldRequest.rawValue, payload: hugeName) }
        let oversizedPiece = [UInt8](repeating: 0, count: 4 + TransferLimits.pieceSizeBytes + 1)
        #expect(throws: (any Error).self) { try PieceMessage.decode(type: PieceMessage.Kind.piece.rawValue, payload: oversizedPiece) }
    }

    @Test("the rarest piece is requested first, and only from a peer that holds it")
    func rarestFirst() {
        var s = PieceScheduler(pieceCount: 4, have: [false, false, false, false])
        var random = SystemRandomNumberGenerator()
        s.addPeer(1, nowMillis: 0)
        s.addPeer(2, nowMillis: 0)
        s.setHoldings(1, holds: [true, true, true, false])
        s.setHoldings(2, holds: [true, true, false, true])
        #expect(s.nextRequest(for: 1, random: &random) == 2, "piece 2 is held by one peer only")
        #expect(s.nextRequest(for: 2, random: &random) == 3)
        let next = s.nextRequest(for: 1, random: &random)
        #expect(next == 0 || next == 1)
    }

    @Test("a disconnected peer's requests return to the pool; the endgame duplicates at most twice")
    func reassignAndEndgame() {
        var s = PieceScheduler(pieceCount: 2, have: [false, false])
        var random = SystemRandomNumberGenerator()
        for id in 1...3 {
            s.addPeer(id, nowMillis: 0)
            s.setHoldings(id, holds: [true, true])
        }
        let a = s.nextRequest(for: 1, random: &random)
        let b = s.nextRequest(for: 1, random: &random)
        #expect(Set([a, b]) == [0, 1])
        #expect(s.nextRequest(for: 1, random: &random) == nil, "no duplicate request on the same peer")
        let dup = s.nextRequest(for: 2, random: &random)
        #expect(dup != nil, "the endgame asks a second peer")
        _ = s.nextRequest(for: 2, random: &random)
        #expect(s.nextRequest(for: 3, random: &random) == nil, "at most two requests per piece")
        s.removePeer(1)
        #expect(s.nextRequest(for: 3, random: &random) != nil, "peer 1's pieces can be requested again")
    }

    @Test("a peer much slower than the best gets fewer requests in flight")
    func slowPeerGetsLessWork() {
        var s = PieceScheduler(pieceCount: 64, have: Array(repeating: false, count: 64))
        var random = SystemRandomNumberGenerator()
        for id in 1...2 {
            s.addPeer(id, nowMillis: 0)
            s.setHoldings(id, holds: Array(repeating: true, count: 64))
        }
        #expect(s.requestDepth(for: 2, nowMillis: 1_000) == TransferLimits.requestsInFlightPerPeer)
        for _ in 0..<16 {
            let index = s.nextRequest(for: 1, random: &random)!
            _ = s.received(1, userID: "fast", index: index, byteCount: TransferLimits.pieceSizeBytes, isValid: true)
        }
        for _ in 0..<4 {
            let index = s.nextRequest(for: 2, random: &random)!
            _ = s.received(2, userID: "slow", index: index, byteCount: TransferLimits.pieceSizeBytes / 8, isValid: true)
        }
        #expect(s.requestDepth(for: 1, nowMillis: 1_000) == TransferLimits.requestsInFlightPerPeer)
        #expect(s.requestDepth(for: 2, nowMillis: 1_000) == TransferLimits.requestsInFlightSlowPeer)
    }

    @Test("a clock reading older than a peer's connection time (read on another thread) gives a depth, never a trap")
    func clockReadBeforeAnotherPeerConnected() {
        var s = PieceScheduler(pieceCount: 8, have: Array(repeating: false, count: 8))
        s.addPeer(1, nowMillis: 5_000)
        s.addPeer(2, nowMillis: 5_010)
        #expect(s.requestDepth(for: 1, nowMillis: 5_002) == TransferLimits.requestsInFlightPerPeer)
        #expect(s.requestDepth(for: 2, nowMillis: 0) == TransferLimits.requestsInFlightPerPeer)
        #expect(s.requestDepth(for: 1, nowMillis: .max) == TransferLimits.requestsInFlightPerPeer)
    }

    @Test("a bad piece is requested again; a peer with too many bad pieces is dropped")
    func badPieces() {
        var s = PieceScheduler(pieceCount: 8, have: Array(repeating: false, count: 8))
        var random = SystemRandomNumberGenerator()
        s.addPeer(1, nowMillis: 0)
        s.setHoldings(1, holds: Array(repeating: true, count: 8))
        var outcomes: [PieceScheduler.Outcome] = []
        for _ in 0..<TransferLimits.badPiecesMax {
            let index = s.nextRequest(for: 1, random: &random)!
            outcomes.append(s.received(1, userID: "m", index: index, byteCount: 1, isValid: false))
        }
        #expect(outcomes.last == .peerDropped)
        #expect(outcomes.dropLast().allSatisfy { $0 == .rejected })
        #expect(s.doneCount == 0)
        #expect(s.bannedPeers == ["m"])
        let index = s.nextRequest(for: 1, random: &random)!
        #expect(s.received(1, userID: "m", index: index, byteCount: 1, isValid: true) == .accepted)
        #expect(s.received(1, userID: "m", index: index, byteCount: 1, isValid: true) == .duplicate)
    }

    @Test("two-core hashing gives the same piece and file SHA-1s as one pass, for sizes around piece edges")
    func hashing() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hash-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let piece = TransferLimits.pieceSizeBytes
        for size in [0, 1, piece - 1, piece, piece + 1, TransferLimits.hashBatchBytes + 3 * piece + 5] {
            let path = try makeRandomFile(in: directory, name: "f\(size)", byteCount: size)
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            let digests = try FileHashing.digests(ofFileAt: path)
            #expect(digests.fileHash == SHA1.hash(bytes))
            var expected: [UInt8] = []
            var start = 0
            while start < size {
                expected += SHA1.hash(bytes[start..<min(size, start + piece)])
                start += piece
            }
            #expect(digests.pieceHashes == expected, "size \(size)")
            let verified = FileHashing.verifiedPieces(ofFileAt: path, pieceHashes: expected, sizeBytes: UInt64(size))
            #expect(verified.allSatisfy { $0 })
        }
    }
}
