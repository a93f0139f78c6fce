import CommandLineFlags
import Consensus
import DurableLog
import Foundation
import SystemClock

// consensus-bench: proposals committed per second by a 3-node cluster of the pure core driven in
// one process with in-memory storage. Run: swift run -c release consensus-bench [--proposals N]

/// Drives three cores in one process: every ready batch is saved to memory, messages are
/// delivered in order, and the leader is fed proposals in batches of `batchSize`.
struct InProcessCluster {
    var nodes: [RaftNode]
    var storages: [MemoryStorage]
    var queue: [Message] = []
    var queueHead = 0
    var appliedCount = 0

    init() {
        let ids: [NodeID] = [1, 2, 3]
        nodes = ids.map { id in
            var config = RaftConfig(id: id, peers: ids)
            config.randomSeed = id
            return try! RaftNode(config: config, persisted: PersistedState())
        }
        storages = ids.map { _ in MemoryStorage() }
    }

    mutating func drain() {
        var progressed = true
        while progressed {
            progressed = false
            for i in nodes.indices where nodes[i].hasReady {
                progressed = true
                let rd = nodes[i].ready()
                try! storages[i].save(hardState: rd.hardState, entries: rd.entries, mustSync: rd.mustSync)
                queue.append(contentsOf: rd.messages)
                if i == 0 { appliedCount += rd.committedEntries.count { $0.kind == .normal } }
                nodes[i].advance()
            }
            while queueHead < queue.count {
                let m = queue[queueHead]
                queueHead += 1
                nodes[Int(m.to) - 1].step(m)
                progressed = true
            }
            queue.removeAll(keepingCapacity: true)
            queueHead = 0
        }
    }

    mutating func electFirst() {
        while nodes[0].role != .leader {
            nodes[0].tick()
            drain()
        }
    }
}

/// consensus-bench's command line.
struct BenchOptions {
    /// Proposals the core commits per batch size.
    var proposals = 1_000_000

    static let usage = "usage: consensus-bench [--proposals N]"

    static func parse(_ arguments: [String]) -> FlagOutcome<BenchOptions> {
        var parser = FlagParser<BenchOptions>()
        parser.value("--proposals", need: "needs a positive number") { o, v in
            guard let n = FlagValue.positive(v), n <= 1 << 40 else { return false }
            o.proposals = Int(n)
            return true
        }
        return parser.parse(arguments, into: BenchOptions())
    }
}

let options = BenchOptions.parse(Array(CommandLine.arguments.dropFirst())).resolve(command: "consensus-bench", usage: BenchOptions.usage)

func measureCore() {
    let total = options.proposals
    let payload = [UInt8](repeating: 7, count: 128)
    for batchSize in [1, 64] {
        var cluster = InProcessCluster()
        cluster.electFirst()
        let start = SystemClock.monotonicNanos()
        var proposed = 0
        while proposed < total {
            for _ in 0..<batchSize { _ = try! cluster.nodes[0].propose(payload) }
            proposed += batchSize
            cluster.drain()
        }
        let seconds = elapsedSeconds(fromNanos: start, to: SystemClock.monotonicNanos())
        precondition(cluster.appliedCount == proposed, "applied \(cluster.appliedCount) of \(proposed)")
        let rate = Double(proposed) / seconds
        print(String(format: "core: 3 nodes, in-memory, 128-byte proposals, %3d per batch: %10.0f committed/s (%d in %.2f s)",
                     batchSize, rate, total, seconds))
    }
}

measureCore()

/// Appends per second to the file log, each batch fsynced (group commit), at several batch sizes.
func measureFileLog() {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("consensus-bench-\(getpid())").path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let payload = [UInt8](repeating: 7, count: 128)
    for batchSize in [1, 16, 256] {
        try? FileManager.default.removeItem(atPath: directory)
        let storage = try! FileStorage(directory: directory)
        _ = try! storage.load()
        let batches = max(200, 20_000 / batchSize)
        var index: UInt64 = 0
        let start = SystemClock.monotonicNanos()
        for _ in 0..<batches {
            var entries: [Entry] = []
            entries.reserveCapacity(batchSize)
            for _ in 0..<batchSize {
                index += 1
                entries.append(Entry(term: 1, index: index, data: payload))
            }
            try! storage.save(hardState: nil, entries: entries, mustSync: true)
        }
        let seconds = elapsedSeconds(fromNanos: start, to: SystemClock.monotonicNanos())
        print(String(format: "file log: 128-byte entries, fdatasync per batch of %3d: %9.0f appends/s, %7.0f batches/s (%.3f ms per batch)",
                     batchSize, Double(index) / seconds, Double(batches) / seconds, seconds * 1000 / Double(batches)))
    }
}

measureFileLog()
