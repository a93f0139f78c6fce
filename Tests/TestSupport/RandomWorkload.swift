import SeededRandom
import TrackerStateMachine

/// A seeded stream of plausible and implausible commands, for determinism tests, benchmarks
/// and the fuzz target: the same seed and sizes give the same envelopes in every process.
/// Test machinery: it lives in this test-support module, never in the production domain.
///
/// It mixes valid commands with errors (unknown groups, bad names, wrong owners, stale tokens),
/// retries of a client's last request, and the passage of time with session expiry.
public struct RandomWorkload: Sendable {
    /// The stream depends on nothing but the seed.
    private var generator: SeededGenerator
    private let userCount: Int
    private let groupCount: Int
    private let fileCount: Int
    private var tokens: [TokenHash]
    private var lastEnvelope: [CommandEnvelope?]
    private var sequences: [UInt64]
    private var tokenCounter: UInt64 = 0
    /// The time the workload's leader stamps on time commands; advances as commands are made.
    public private(set) var nowMillis: UInt64 = 1_000_000

    /// A workload over `userCount` users (`u0`…), `groupCount` groups (`g0`…) and `fileCount`
    /// file names (`f0`…) per group, fully determined by `seed`.
    public init(seed: UInt64, userCount: Int = 20, groupCount: Int = 6, fileCount: Int = 8) {
        precondition(userCount >= 1 && groupCount >= 1 && fileCount >= 1, "workload sizes must be positive")
        generator = SeededGenerator(seed: seed)
        self.userCount = userCount
        self.groupCount = groupCount
        self.fileCount = fileCount
        tokens = (0..<userCount).map { _ in TokenHash([UInt8](repeating: 0, count: 16)) }
        lastEnvelope = Array(repeating: nil, count: userCount)
        sequences = Array(repeating: 0, count: userCount)
    }

    /// A number in `0..<bound`: the generator's next value modulo `bound`.
    private mutating func random(_ bound: Int) -> Int {
        Int(generator.next() % UInt64(bound))
    }

    /// A deterministic 16-byte token hash numbered `n`.
    public static func tokenHash(_ n: UInt64) -> TokenHash {
        var bytes = [UInt8](repeating: 0xA5, count: 16)
        for i in 0..<8 { bytes[i] ^= UInt8(truncatingIfNeeded: n >> UInt64(8 * i)) }
        return TokenHash(bytes)
    }

    /// Metadata of a file named `name` with content variant `variant` and `pieceCount` pieces.
    public static func metadata(name: String, variant: Int, pieceCount: Int, limits: Limits = .standard) -> FileMetadata {
        let size = UInt64(pieceCount) * UInt64(limits.pieceSizeBytes) - UInt64(variant % 7)
        var hashes = [UInt8](repeating: 0, count: pieceCount * Limits.sha1Bytes)
        for i in hashes.indices { hashes[i] = UInt8(truncatingIfNeeded: i &* 31 &+ variant &* 7) }
        let fileHash = (0..<Limits.sha1Bytes).map { UInt8(truncatingIfNeeded: $0 &+ variant &* 13) }
        return FileMetadata(name: name, sizeBytes: size, pieceSizeBytes: limits.pieceSizeBytes,
                            pieceHashes: hashes, fileHash: fileHash)
    }

    /// The next envelope of the stream.
    public mutating func next() -> CommandEnvelope {
        nowMillis += UInt64(random(2_000))
        let user = random(userCount)
        if random(20) == 0, let previous = lastEnvelope[user] { return previous }
        if random(40) == 0 {
            let expired = [tokens[random(userCount)], tokens[random(userCount)]].sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
            return CommandEnvelope(clientID: 0, sequence: 0, command: .expireSessions(tokenHashes: expired, nowMillis: nowMillis))
        }
        let command = makeCommand(user: user)
        sequences[user] += 1
        let envelope = CommandEnvelope(clientID: UInt64(user + 1), sequence: sequences[user], command: command)
        lastEnvelope[user] = envelope
        return envelope
    }

    private mutating func makeCommand(user: Int) -> TrackerCommand {
        let token = tokens[user]
        let group = random(8) == 0 ? "bad/group" : "g\(random(groupCount))"
        let file = random(16) == 0 ? ".." : "f\(random(fileCount))"
        switch random(14) {
        case 0: return .createUser(userID: "u\(user)", salt: [UInt8](repeating: 1, count: 16), passwordHash: [UInt8](repeating: 2, count: 32))
        case 1, 2:
            tokenCounter += 1
            tokens[user] = Self.tokenHash(tokenCounter)
            return .openSession(userID: "u\(user)", tokenHash: tokens[user], peerAddress: "10.0.0.\(user % 250 + 1):\(6000 + user)", nowMillis: nowMillis)
        case 3: return .keepAlive(tokenHash: token, nowMillis: nowMillis)
        case 4: return .logout(tokenHash: token)
        case 5: return .createGroup(tokenHash: token, groupID: group)
        case 6, 7: return .joinGroup(tokenHash: token, groupID: group)
        case 8: return .acceptRequest(tokenHash: token, groupID: group, userID: "u\(random(userCount))")
        case 9: return .leaveGroup(tokenHash: token, groupID: group)
        case 10, 11:
            return .uploadFile(tokenHash: token, groupID: group, metadata: Self.metadata(name: file, variant: random(2), pieceCount: 1 + random(12)))
        case 12:
            var bits = [UInt8](repeating: 0, count: 2)
            bits[0] = UInt8(truncatingIfNeeded: 1 << random(8))
            return .announcePieces(tokenHash: token, groupID: group, fileName: file, pieces: bits)
        default: return .stopShare(tokenHash: token, groupID: group, fileName: file)
        }
    }
}

extension RandomWorkload {
    /// Applies `commandCount` envelopes of the workload seeded `seed` to a fresh machine and
    /// returns an FNV-1a 64 digest of every result's bytes followed by the final snapshot.
    /// Two processes (with different hash seeds) must print the same digest.
    public static func replayDigest(seed: UInt64, commandCount: Int, limits: Limits = .standard) -> UInt64 {
        var workload = RandomWorkload(seed: seed)
        var machine = TrackerStateMachine(limits: limits)
        var transcript: [UInt8] = []
        for _ in 0..<commandCount { transcript += machine.apply(workload.next()).encode() }
        transcript += machine.snapshot()
        return FNV1a64.hash(transcript[...])
    }
}
