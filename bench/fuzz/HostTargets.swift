@testable import Consensus
import TestSupport
@testable import TrackerHosting
import TrackerStateMachine

/// Tracker hosts in several roles, reached by a real election and replication of workload
/// commands (with snapshots) on three hosts wired together.
enum HostFixtures {
    static let tokenHash: @Sendable ([UInt8]) -> TokenHash = { TokenHash($0 + [UInt8](repeating: 0xA5, count: 16)) }

    struct Wired {
        var hosts: [TrackerHost]
        var isolated: NodeID = 0

        init() {
            var options = HostOptions()
            options.snapshotThresholdEntries = 8
            options.retainedEntries = 2
            options.snapshotLogBytesRatio = 0
            hosts = (1...3).map { id in
                var config = RaftConfig(id: NodeID(id), peers: [1, 2, 3])
                config.randomSeed = UInt64(id)
                return try! TrackerHost(raftConfig: config, persisted: PersistedState(), options: options, hashToken: tokenHash)
            }
        }

        /// Carries out every batch and delivers every message until nothing moves.
        mutating func settle() {
            for _ in 0..<10_000 {
                var messages: [Message] = []
                for i in hosts.indices where hosts[i].hasReady {
                    let batch = hosts[i].ready()
                    messages += batch.raft.messages.filter { $0.from != isolated && $0.to != isolated }
                    _ = hosts[i].advance()
                    if let job = batch.snapshotJob {
                        _ = hosts[i].snapshotTaken(Snapshot(meta: job.meta, data: job.machine.snapshot()))
                    }
                }
                guard !messages.isEmpty else { return }
                for m in messages { hosts[Int(m.to) - 1].receive(m) }
            }
        }
    }

    /// The named hosts, and payloads their entries and snapshots may carry.
    static func make() -> (hosts: [TrackerHost], payloads: [[UInt8]], snapshots: [[UInt8]]) {
        var net = Wired()
        var fixtures = [net.hosts[1]]
        net.hosts[0].raft.campaign(isTransfer: true)
        net.settle()
        var workload = RandomWorkload(seed: 7, userCount: 4, groupCount: 2, fileCount: 2)
        var payloads: [[UInt8]] = []
        for _ in 0..<12 {
            let envelope = workload.next()
            payloads.append(envelope.encode())
            net.hosts[0].propose(envelope, kind: .plain, target: nil)
            net.settle()
        }
        fixtures += [net.hosts[0], net.hosts[1]]
        net.isolated = 3
        for _ in 0..<10 {
            net.hosts[0].propose(workload.next(), kind: .plain, target: nil)
            net.settle()
        }
        fixtures += [net.hosts[0]]
        let snapshot = net.hosts[0].latestSnapshot?.data ?? []
        return (fixtures, payloads, [snapshot, Array(snapshot.dropLast()), [], TrackerStateMachine().snapshot()])
    }
}

/// Drives one host with hostile Raft messages as the shell would: receive, then each batch
/// carried out (snapshot jobs completed), then advance; invariants of the core and the state
/// machine checked throughout, and an installed snapshot must be the state the host now holds.
struct HostDriver {
    var host: TrackerHost
    var generator: HostileMessages
    var outbox: [Message] = []
    var nowMillis: UInt64 = 1_000_000
    /// A snapshot job the shell is still writing (tracker-node writes them on another thread,
    /// so inputs keep arriving until it is done).
    var jobInProgress: SnapshotJob?

    mutating func act(using s: inout some ChoiceSource) {
        switch s.below(12) {
        case 0:
            nowMillis += UInt64(s.below(2_000))
            host.tick(nowMillis: nowMillis)
        case 11:
            if let job = jobInProgress {
                jobInProgress = nil
                _ = host.snapshotTaken(Snapshot(meta: job.meta, data: job.machine.snapshot()))
            }
        case 1...3:
            if !outbox.isEmpty, let answer = generator.answer(to: outbox[s.below(outbox.count)], using: &s) {
                host.receive(answer)
            }
        default:
            host.receive(generator.message(to: host.raft, using: &s))
        }
        host.raft.checkInvariants()
        drain()
    }

    mutating func drain() {
        var rounds = 0
        while host.hasReady && rounds < 64 {
            rounds += 1
            let batch = host.ready()
            if !batch.raft.messages.isEmpty { outbox = Array(batch.raft.messages.suffix(16)) }
            _ = host.advance()
            if let installed = batch.raft.snapshot {
                let expected = try? TrackerStateMachine.restore(installed.data, limits: host.options.limits)
                precondition(expected == host.machine, "the host holds another state than the snapshot it installed")
            }
            if let job = batch.snapshotJob { jobInProgress = job }
            host.raft.checkInvariants()
            host.machine.checkInvariants()
        }
    }
}
