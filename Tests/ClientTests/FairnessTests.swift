import Foundation
import PeerTransfer
import Synchronization
import Testing
import TrackerStateMachine

/// The peer server's fairness between users, in process: one piece send at a time per user.
@Suite("peer server fairness", .serialized)
struct FairnessTests {
    /// Pieces served to `userID` over `connections` connections that keep two requests in
    /// flight each until `deadline`.
    static func hammer(port: UInt16, userID: String, connections: Int, pieceCount: Int, untilMillis deadline: UInt64,
                       into tally: Tally) -> [Thread] {
        (0..<connections).map { _ in
            let thread = Thread {
                guard let peer = try? PeerConnection.open(port: port, userID: userID, groupID: "g"), peer.answer == .opened,
                      case .bitfield = try? peer.wire.subscribe("f.bin") else { return }
                var next = 0
                var pending = 0
                while monotonicNowMillis() < deadline {
                    while pending < 2 {
                        guard (try? peer.wire.send(.request(groupID: "g", fileName: "f.bin", index: UInt32(next % pieceCount)))) != nil else { return }
                        next += 1
                        pending += 1
                    }
                    guard case .piece = try? peer.wire.receiveAnswer() else { return }
                    pending -= 1
                    tally.counts.withLock { $0[userID, default: 0] += 1 }
                }
                peer.wire.socket.close()
            }
            thread.start()
            return thread
        }
    }

    @Test("a user with six connections gets about the share of a user with one, not six times it")
    func greedyUserDoesNotStarveOthers() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fair-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let pieceCount = 4
        let path = try makeRandomFile(in: directory, name: "f.bin", byteCount: pieceCount * TransferLimits.pieceSizeBytes)
        let registry = ShareRegistry()
        // Served like a download in progress that holds every piece (not super-seeded), so any piece may be asked.
        registry.add(Share(groupID: "g", fileName: "f.bin", path: path, sizeBytes: UInt64(pieceCount * TransferLimits.pieceSizeBytes),
                           pieces: PieceBitfield.complete(pieceCount: pieceCount), file: try PieceFile.openForReading(path)))
        // Each send takes 20 ms: the server's uplink is the bottleneck, as on a real link.
        let server = try PeerServer(host: "127.0.0.1", port: 0, registry: registry, serveDelayMillis: 20) { peer in
            ["bob", "carol"].contains(peer.userID) ? nil : "not a member"
        }
        server.start()
        defer { server.stop() }
        let tally = Tally()
        let deadline = monotonicNowMillis() + 2_000
        let threads = Self.hammer(port: server.port, userID: "bob", connections: 6, pieceCount: pieceCount, untilMillis: deadline, into: tally)
            + Self.hammer(port: server.port, userID: "carol", connections: 1, pieceCount: pieceCount, untilMillis: deadline, into: tally)
        while threads.contains(where: { !$0.isFinished }) { usleep(20_000) }
        let bob = tally.counts.withLock { $0["bob"] ?? 0 }, carol = tally.counts.withLock { $0["carol"] ?? 0 }
        #expect(carol >= 20, "carol was served: bob \(bob), carol \(carol)")
        #expect(bob <= 2 * carol, "bob's six connections got \(bob) pieces, carol's one \(carol)")
    }
}

/// Pieces received per user, counted by several threads.
final class Tally: Sendable {
    let counts = Mutex<[String: Int]>([:])
}
