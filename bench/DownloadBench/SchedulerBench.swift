import Foundation
import PeerTransfer

/// `download-bench --scheduler PIECES`: drives the piece scheduler in process through a whole
/// download of `PIECES` pieces the way a download's peer threads do (each peer keeps its
/// requests in flight; pieces arrive in request order; partial peers announce pieces as they go),
/// and prints the scheduler's CPU time per piece and as a share of one core at 1 Gbit/s and at
/// 4 Gbit/s (about loopback) of 512 KiB pieces.
enum SchedulerBench {
    struct Peer {
        var id: Int
        var inFlight: [Int] = []
        var isComplete: Bool
    }

    /// Runs one download with `completeCount` sharers holding everything and `partialCount`
    /// downloaders that start with nothing and gain pieces (one new piece announced per piece
    /// arriving, in random order); returns (seconds of scheduler CPU, pieces).
    static func run(pieceCount: Int, completeCount: Int, partialCount: Int, seed: UInt64) -> (Double, Int) {
        var scheduler = PieceScheduler(pieceCount: pieceCount, have: [])
        var random = BenchRandom(seed: seed)
        var peers: [Peer] = []
        for id in 1...(completeCount + partialCount) {
            scheduler.addPeer(id, nowMillis: 0)
            let complete = id <= completeCount
            if complete { scheduler.setHoldings(id, holds: Array(repeating: true, count: pieceCount)) }
            peers.append(Peer(id: id, isComplete: complete))
        }
        var gains = Array(0..<pieceCount)
        gains.shuffle(using: &random)
        var gainCursor = 0
        var cpu = 0.0
        var steps = 0
        while !scheduler.isComplete && steps < pieceCount * 64 {
            steps += 1
            let k = Int(random.next() % UInt64(peers.count))
            let start = cpuSeconds()
            let depth = scheduler.requestDepth(for: peers[k].id, nowMillis: UInt64(steps))
            while peers[k].inFlight.count < depth, let index = scheduler.nextRequest(for: peers[k].id, random: &random, nowMillis: UInt64(steps)) {
                peers[k].inFlight.append(index)
            }
            if !peers[k].inFlight.isEmpty {
                let index = peers[k].inFlight.removeFirst()
                _ = scheduler.received(peers[k].id, userID: "u\(peers[k].id)", index: index, byteCount: 524_288, isValid: true)
            }
            // A partial peer announces a piece it got elsewhere (its own download moving on).
            if partialCount > 0, gainCursor < gains.count {
                let announcer = completeCount + 1 + Int(random.next() % UInt64(partialCount))
                scheduler.addHoldings(announcer, pieces: [gains[gainCursor]])
                gainCursor += 1
            }
            cpu += cpuSeconds() - start
        }
        return (cpu, scheduler.doneCount)
    }

    static func main(pieceCount: Int) {
        say("# scheduler in process: \(pieceCount) pieces (\(pieceCount / 2048) GiB of 512 KiB pieces)")
        for (complete, partial) in [(1, 0), (3, 0), (1, 7), (2, 14)] {
            let (cpu, done) = run(pieceCount: pieceCount, completeCount: complete, partialCount: partial, seed: 42)
            let perPiece = cpu / Double(max(1, done))
            let gigabit = perPiece * (1e9 / 8 / 524_288) * 100
            say(String(format: "scheduler pieces=%d sharers=%d partial_peers=%d done=%d cpu_s=%.3f us_per_piece=%.2f "
                       + "core_percent_at_1gbit=%.2f core_percent_at_4gbit=%.2f", pieceCount, complete, partial, done, cpu,
                       perPiece * 1e6, gigabit, gigabit * 4))
        }
    }

    /// This thread's CPU time (user + system).
    static func cpuSeconds() -> Double {
        var usage = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &usage)
        return Double(usage.tv_sec) + Double(usage.tv_nsec) / 1e9
    }
}

/// SplitMix64: a bench run is a function of its seed.
struct BenchRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
