import Foundation
import PeerTransfer
import Testing
import TrackerStateMachine

/// The peer server's `have` pushes and its super-seeding, in process on a loopback port.
@Suite("peer server haves", .serialized)
struct ServerHaveTests {
    static let pieceCount = 40

    /// A server sharing `f.bin` (40 pieces): complete (super-seeded) or as a download holding
    /// pieces 0 and 1.
    static func server(complete: Bool, directory: String) throws -> (PeerServer, ShareRegistry) {
        let size = pieceCount * TransferLimits.pieceSizeBytes
        let path = try makeRandomFile(in: directory, name: "f.bin", byteCount: size)
        let registry = ShareRegistry()
        var pieces = [UInt8](repeating: 0, count: PieceBitfield.byteCount(pieceCount: pieceCount))
        pieces[0] = 0xC0
        registry.add(Share(groupID: "g", fileName: "f.bin", path: path, sizeBytes: UInt64(size),
                           pieces: complete ? PieceBitfield.complete(pieceCount: pieceCount) : pieces,
                           file: complete ? nil : try PieceFile.openForReading(path)))
        let server = try PeerServer(host: "127.0.0.1", port: 0, registry: registry) { peer in
            peer.userID.hasPrefix("d") ? nil : "not a member"
        }
        server.start()
        return (server, registry)
    }

    static func temporaryDirectory() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("haves-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    /// The pieces of the next `have`, waiting at most `millis`.
    static func nextHave(_ wire: PieceWire, millis: Int = 2_000) throws -> [UInt32]? {
        guard try wire.socket.waitUntilReadable(timeoutMillis: millis) else { return nil }
        guard case let .have(_, pieces) = try wire.receive() else { return nil }
        return pieces
    }

    @Test("a downloader's server pushes have for each piece it gains, without being asked")
    func pushesNewPieces() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (server, registry) = try Self.server(complete: false, directory: directory)
        defer { server.stop() }
        let peer = try PeerConnection.open(port: server.port, userID: "d1", groupID: "g")
        guard case let .bitfield(_, bits) = try peer.wire.subscribe("f.bin") else {
            Issue.record("no bitfield")
            return
        }
        #expect(bits[0] == 0xC0)
        registry.markPiece(groupID: "g", fileName: "f.bin", index: 7)
        #expect(try Self.nextHave(peer.wire) == [7])
        registry.markPiece(groupID: "g", fileName: "f.bin", index: 9)
        registry.markPiece(groupID: "g", fileName: "f.bin", index: 8)
        var told: [UInt32] = []
        while told.count < 2, let pieces = try Self.nextHave(peer.wire) { told += pieces }
        #expect(told.sorted() == [8, 9])
        registry.markPiece(groupID: "g", fileName: "f.bin", index: 7)
        #expect(try Self.nextHave(peer.wire, millis: 200) == nil, "a piece is announced once")
    }

    @Test("a complete sharer offers each downloader its own pieces, and a downloader's have tops its offers up")
    func superSeedsOverTheWire() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (server, _) = try Self.server(complete: true, directory: directory)
        defer { server.stop() }
        let a = try PeerConnection.open(port: server.port, userID: "d1", groupID: "g")
        let b = try PeerConnection.open(port: server.port, userID: "d2", groupID: "g")
        guard case let .bitfield(_, bitsA) = try a.wire.subscribe("f.bin"), case let .bitfield(_, bitsB) = try b.wire.subscribe("f.bin"),
              let offeredA = PieceScheduler.flags(of: bitsA, pieceCount: Self.pieceCount),
              let offeredB = PieceScheduler.flags(of: bitsB, pieceCount: Self.pieceCount) else {
            Issue.record("no bitfields")
            return
        }
        let setA = Set(offeredA.indices.filter { offeredA[$0] }), setB = Set(offeredB.indices.filter { offeredB[$0] })
        #expect(setA.count == TransferLimits.superSeedOfferPieces && setB.count == TransferLimits.superSeedOfferPieces)
        #expect(setA.isDisjoint(with: setB), "each piece is offered to one downloader")
        let otherPiece = setB.min()!
        try a.wire.send(.request(groupID: "g", fileName: "f.bin", index: UInt32(otherPiece)))
        guard case .reject = try a.wire.receiveAnswer() else {
            Issue.record("a piece offered to another downloader was served")
            return
        }
        // a got one of its pieces elsewhere: the server offers it a fresh one instead.
        try a.wire.send(.have(fileName: "f.bin", pieces: [UInt32(setA.min()!)]))
        let fresh = try Self.nextHave(a.wire)
        #expect(fresh?.count == 1 && !setA.contains(Int(fresh![0])) && !setB.contains(Int(fresh![0])))
        try a.wire.send(.have(fileName: "f.bin", pieces: [UInt32(Self.pieceCount)]))
        #expect(throws: (any Error).self, "a have out of range ends the connection") {
            while true { _ = try a.wire.receive() }
        }
    }
}
