import Foundation
import Networking
import PeerTransfer
import Testing

/// The swarm's piece-protocol messages: `have` (both ways) and the detached piece list.
@Suite("swarm protocol")
struct SwarmProtocolTests {
    typealias C = PeerMessageCheck

    @Test("have, piece-list request and piece list round-trip")
    func roundTrip() throws {
        let messages: [PieceMessage] = [
            .have(fileName: "f", pieces: [0]), .have(fileName: "f", pieces: Array(0..<UInt32(TransferLimits.haveIndicesMax))),
            .pieceListRequest(fileName: "f", first: 16_384, count: 100),
            .pieceList(fileName: "f", first: 3, hashes: [UInt8](repeating: 9, count: 40)),
        ]
        for message in messages {
            #expect(try PieceMessage.decode(type: message.kind.rawValue, payload: message.encodedPayload()) == message)
        }
    }

    @Test("truncated, empty, oversized and trailing have and piece-list payloads are errors, never traps")
    func garbage() {
        let have = PieceMessage.have(fileName: "f", pieces: [1, 5, 9]).encodedPayload()
        let kind = PieceMessage.Kind.have.rawValue
        for cut in 0..<have.count {
            #expect(throws: (any Error).self) { try PieceMessage.decode(type: kind, payload: Array(have[0..<cut])) }
        }
        #expect(throws: (any Error).self) { try PieceMessage.decode(type: kind, payload: have + [0]) }
        let name: [UInt8] = [0, 0, 0, 1, 0x66]
        #expect(throws: (any Error).self) { try PieceMessage.decode(type: kind, payload: name + [0, 0, 0, 0]) }
        let tooMany = UInt32(TransferLimits.haveIndicesMax + 1)
        let count: [UInt8] = [UInt8(tooMany >> 24), UInt8(tooMany >> 16 & 0xFF), UInt8(tooMany >> 8 & 0xFF), UInt8(tooMany & 0xFF)]
        #expect(throws: (any Error).self) {
            try PieceMessage.decode(type: kind, payload: name + count + [UInt8](repeating: 0, count: Int(tooMany) * 4))
        }
        // A count the payload cannot hold is refused before anything is allocated for it.
        #expect(throws: (any Error).self) { try PieceMessage.decode(type: kind, payload: name + [0, 0, 4, 0] + [0, 0, 0, 1]) }
        let list = PieceMessage.pieceList(fileName: "f", first: 0, hashes: [1, 2]).encodedPayload()
        let listKind = PieceMessage.Kind.pieceList.rawValue
        for cut in 0..<list.count {
            #expect(throws: (any Error).self) { try PieceMessage.decode(type: listKind, payload: Array(list[0..<cut])) }
        }
        let hugeList = name + [0, 0, 0, 0] + [0xFF, 0xFF, 0xFF, 0xFF]
        #expect(throws: (any Error).self) { try PieceMessage.decode(type: listKind, payload: hugeList) }
        let request = PieceMessage.pieceListRequest(fileName: "f", first: 0, count: 1).encodedPayload()
        #expect(throws: (any Error).self) { try PieceMessage.decode(type: PieceMessage.Kind.pieceListRequest.rawValue, payload: request + [1]) }
    }

    @Test("a have must name the file, fit its pieces and be strictly ascending; piece lists answer their request")
    func checks() {
        let expecting = C.Expectation.have(fileName: "f", pieceCount: 10)
        #expect(C.violation(of: .have(fileName: "f", pieces: [0, 3, 9]), expecting: expecting) == nil)
        #expect(C.violation(of: .have(fileName: "f", pieces: [10]), expecting: expecting) != nil, "out of range")
        #expect(C.violation(of: .have(fileName: "f", pieces: [3, 3]), expecting: expecting) != nil, "a duplicate")
        #expect(C.violation(of: .have(fileName: "f", pieces: [4, 2]), expecting: expecting) != nil, "descending")
        #expect(C.violation(of: .have(fileName: "f", pieces: []), expecting: expecting) != nil, "empty")
        #expect(C.violation(of: .have(fileName: "g", pieces: [1]), expecting: expecting) != nil, "another file")
        #expect(C.violation(of: .have(fileName: "f", pieces: [1]), expecting: .piece(index: 1)) != nil, "not where an answer is due")
        // Server side: a have's names are checked here, its indexes against the file afterwards.
        #expect(C.violation(of: .have(fileName: "f", pieces: [1, 2]), expecting: .request) == nil)
        #expect(C.violation(of: .have(fileName: "../f", pieces: [1]), expecting: .request) != nil)
        #expect(C.haveViolation([UInt32(TransferLimits.piecesPerFileMax)], pieceCount: TransferLimits.piecesPerFileMax) != nil)
        #expect(C.violation(of: .pieceListRequest(fileName: "f", first: 0, count: 16_384), expecting: .request) == nil)
        #expect(C.violation(of: .pieceListRequest(fileName: "f", first: 0, count: 0), expecting: .request) != nil)
        #expect(C.violation(of: .pieceListRequest(fileName: "f", first: 0, count: 16_385), expecting: .request) != nil)
        #expect(C.violation(of: .pieceListRequest(fileName: "f", first: .max, count: 2), expecting: .request) != nil)
        let list = C.Expectation.pieceList(fileName: "f", first: 0, count: 2)
        #expect(C.violation(of: .pieceList(fileName: "f", first: 0, hashes: [UInt8](repeating: 1, count: 40)), expecting: list) == nil)
        #expect(C.violation(of: .pieceList(fileName: "f", first: 0, hashes: [UInt8](repeating: 1, count: 39)), expecting: list) != nil)
        #expect(C.violation(of: .pieceList(fileName: "f", first: 2, hashes: [UInt8](repeating: 1, count: 40)), expecting: list) != nil)
        #expect(C.violation(of: .reject(reason: "no list"), expecting: list) == nil)
    }

    @Test("a piece-list frame is taken only where pieces are; a control frame above its limit is refused unread")
    func frameLimits() throws {
        let listener = try Socket.listen(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        let client = try Socket.connect(host: "127.0.0.1", port: try listener.localPort, timeoutMillis: 2_000)
        defer { client.close() }
        let server = try listener.accept()
        defer { server.close() }
        let sender = PieceWire(socket: client)
        let receiver = PieceWire(socket: server)
        let hashes = [UInt8](repeating: 5, count: TransferLimits.pieceListChunkHashes * TransferLimits.sha1Bytes)
        try sender.send(.pieceList(fileName: "f", first: 0, hashes: hashes))
        #expect(try receiver.receive() == .pieceList(fileName: "f", first: 0, hashes: hashes))
        try sender.send(.pieceList(fileName: "f", first: 0, hashes: hashes))
        #expect(throws: (any Error).self) { try receiver.receive(maxBytes: 0) }
    }
}
