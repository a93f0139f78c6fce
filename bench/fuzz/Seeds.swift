@testable import Consensus
import Glibc
import TrackerProtocol
import TrackerStateMachine

/// A starting corpus of valid encodings, so the fuzzer begins past the first checks of every
/// decoder: one file per seed, its first byte the mode that reads it.
enum Seeds {
    static func write(to directory: String) {
        var seeds: [[UInt8]] = []
        var choices = SeededChoices(seed: 1)
        let generator = HostileMessages(payloads: Fuzz.host.payloads, snapshotPayloads: Fuzz.host.snapshots)
        for (fixture, node) in Fuzz.raftFixtures.enumerated() {
            for _ in 0..<4 {
                let frame = RaftCodec.encode(generator.message(to: node, using: &choices))
                seeds.append([0] + frame)
                seeds.append([5, UInt8(fixture), UInt8(truncatingIfNeeded: frame.count >> 8), UInt8(truncatingIfNeeded: frame.count)] + frame)
            }
        }
        for payload in Fuzz.host.payloads { seeds.append([0] + payload) }
        for snapshot in Fuzz.host.snapshots where snapshot.count > 14 {
            seeds.append([0] + snapshot)
            seeds.append([1] + Array(snapshot[6..<(snapshot.count - 8)]))
        }
        let request = ClientRequest(clientID: 1, sequence: 2, token: [1, 2], operation: .login(userID: "u", password: "p", peerAddress: "127.0.0.1:9"))
        seeds.append([0] + ServiceCodec.encode(request))
        let upload = ClientRequest(clientID: 1, sequence: 3, token: [1, 2], operation: .command(.announcePieces(groupID: "g", fileName: "f", pieces: [0x80])))
        seeds.append([0] + ServiceCodec.encode(upload))
        seeds.append([0] + ClientQuery.listFiles(groupID: "g", page: PageRequest(after: "f", limit: 2)).encode())
        seeds.append([0] + ServiceCodec.encode(ClientResponse.redirect(leader: 2, address: "127.0.0.1:7002")))
        for mode: UInt8 in [2, 3, 6, 7] { seeds.append([mode] + (0..<64).map { UInt8($0 &* 37 & 0xFF) }) }
        for (number, seed) in seeds.enumerated() {
            guard let file = fopen(directory + "/seed-\(number)", "wb") else { continue }
            _ = seed.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
            fclose(file)
        }
    }
}
