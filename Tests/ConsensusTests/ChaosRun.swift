import Testing
@testable import Consensus
import SeededRandom

/// A seeded run of five nodes under partitions, crashes (restarts from stable storage) and
/// message loss, duplication and reordering, with proposals at whoever leads. `observe` sees the
/// network after every tick and every delivery, so the §5 safety properties can be checked on
/// every state the run passes through. A run is a pure function of its seed.
struct ChaosRun {
    private(set) var net: TestNetwork
    private var random: SeededGenerator

    init(seed: UInt64) {
        net = TestNetwork(size: 5, seed: seed) {
            $0.heartbeatTicks = 2
            $0.electionTimeoutTicks = 6
        }
        random = SeededGenerator(seed: seed)
    }

    private mutating func below(_ n: Int) -> Int { Int(random.next() % UInt64(n)) }
    private mutating func anyNode() -> NodeID { NodeID(below(net.ids.count) + 1) }

    /// Runs `rounds` disturbed rounds (a fault, maybe a proposal, a tick of every node, delivery),
    /// then heals the network and lets it settle.
    mutating func run(rounds: Int, observe: (TestNetwork) -> Void) {
        for round in 0..<rounds {
            disturb()
            if let leader = net.leader, below(2) == 0 { _ = try? net.propose(leader, "r\(round)") }
            tickAll(observe)
            deliver(observe)
        }
        net.heal()
        for _ in 0..<20 {
            tickAll(observe)
            deliver(observe)
        }
    }

    private mutating func disturb() {
        switch below(16) {
        case 0: net.isolate(anyNode())
        case 1: net.isolate(net.leader ?? anyNode())
        case 2:
            let (a, b) = (anyNode(), anyNode())
            if a != b { net.cut(a, b) }
        case 3, 4: net.heal()
        case 5: net.restart(anyNode())
        case 6: net.restart(net.leader ?? anyNode())
        default: break
        }
    }

    private mutating func tickAll(_ observe: (TestNetwork) -> Void) {
        for id in net.ids {
            net.tick(id)
            observe(net)
        }
    }

    /// Delivers what is in flight, a few messages out of order, some lost, some twice.
    private mutating func deliver(_ observe: (TestNetwork) -> Void) {
        net.drainReady()
        observe(net)
        var steps = 0
        while !net.inFlight.isEmpty && steps < 5_000 {
            steps += 1
            let m = net.inFlight.remove(at: below(min(4, net.inFlight.count)))
            switch below(25) {
            case 0: continue // lost
            case 1: net.inFlight.append(m) // duplicated: delivered now and again later
            default: break
            }
            if net.cutLinks.contains([m.from, m.to]) { continue } // cut while it was in flight
            net.nodes[m.to]!.step(m)
            net.nodes[m.to]!.checkInvariants()
            net.drainReady()
            observe(net)
        }
    }
}

/// What a chaos run showed: the violations of each §5 safety property (Figure 3), checked on
/// every state the run passed through, and how much happened, so that no property holds only
/// because nothing did.
struct ChaosReport: Sendable, CustomTestStringConvertible {
    let seed: UInt64
    var electionSafety: [String] = []
    var logMatching: [String] = []
    var leaderAppendOnly: [String] = []
    var leaderCompleteness: [String] = []
    var stateMachineSafety: [String] = []
    /// Terms that had a leader; the longest log; entries seen committed; entries applied.
    var leaderTerms = 0
    var longestLog = 0
    var committed = 0
    var applied = 0

    var testDescription: String { "seed \(seed)" }

    /// Runs a chaos run of `rounds` rounds from `seed` and checks it.
    init(seed: UInt64, rounds: Int) {
        var report = ChaosReport(seed: seed)
        var checker = SafetyChecker()
        var run = ChaosRun(seed: seed)
        run.run(rounds: rounds) { checker.observe($0, into: &report) }
        report.leaderTerms = checker.leaders.count
        report.committed = checker.committed.count
        report.applied = checker.appliedAt.count
        self = report
    }

    private init(seed: UInt64) { self.seed = seed }
}

/// The state the safety checks keep between observations.
private struct SafetyChecker {
    /// The leader seen in each term.
    var leaders: [UInt64: NodeID] = [:]
    /// Each leader's log when last seen leading, by [id, term].
    var heldLogs: [[UInt64]: [Entry]] = [:]
    /// By index - 1: the term of the node first seen with it committed, and the entry's term.
    var committed: [(term: UInt64, entryTerm: UInt64)] = []
    /// The entry applied at each index, and how many entries each node had applied.
    var appliedAt: [UInt64: Entry] = [:]
    var appliedCount: [NodeID: Int] = [:]
    /// The logs as last checked for Log Matching.
    var checkedLogs: [[Entry]] = []

    mutating func observe(_ net: TestNetwork, into report: inout ChaosReport) {
        let nodes = net.ids.map { net.node($0) }
        let logs = nodes.map { $0.log.entries }
        report.longestLog = max(report.longestLog, logs.map(\.count).max()!)
        for node in nodes where node.role == .leader { checkLeader(node, into: &report) }
        checkLogMatching(logs, into: &report)
        recordCommitted(nodes)
        for node in nodes where node.role == .leader { checkCompleteness(node, into: &report) }
        for node in nodes { checkApplied(net.applied[node.config.id]!, of: node.config.id, into: &report) }
    }

    /// Election Safety and Leader Append-Only.
    mutating func checkLeader(_ node: RaftNode, into report: inout ChaosReport) {
        let id = node.config.id
        if let other = leaders[node.term], other != id { report.electionSafety.append("term \(node.term): \(other) and \(id)") }
        leaders[node.term] = id
        let key = [id, node.term]
        let log = node.log.entries
        if let old = heldLogs[key], log != old, log.count < old.count || Array(log[..<old.count]) != old {
            report.leaderAppendOnly.append("leader \(id) of term \(node.term)")
        }
        heldLogs[key] = log
    }

    /// For each pair of logs, the highest index where the terms agree: all entries below agree
    /// too. A pair is checked again only when one of its logs changed (an unchanged log shares
    /// its storage with the copy kept here, which `==` sees at once).
    mutating func checkLogMatching(_ logs: [[Entry]], into report: inout ChaosReport) {
        let changed = logs.indices.map { checkedLogs.count != logs.count || checkedLogs[$0] != logs[$0] }
        checkedLogs = logs
        for a in logs.indices {
            for b in logs.indices where b > a && (changed[a] || changed[b]) {
                var n = min(logs[a].count, logs[b].count)
                while n > 0 && logs[a][n - 1].term != logs[b][n - 1].term { n -= 1 }
                if logs[a][..<n] != logs[b][..<n] { report.logMatching.append("nodes \(a + 1) and \(b + 1) through \(n)") }
            }
        }
    }

    mutating func recordCommitted(_ nodes: [RaftNode]) {
        for node in nodes where node.commitIndex > UInt64(committed.count) {
            for i in (UInt64(committed.count) + 1)...node.commitIndex { committed.append((node.term, node.term(at: i)!)) }
        }
    }

    func checkCompleteness(_ leader: RaftNode, into report: inout ChaosReport) {
        for (i, c) in committed.enumerated() where c.term < leader.term && leader.term(at: UInt64(i + 1)) != c.entryTerm {
            report.leaderCompleteness.append("leader \(leader.config.id) of term \(leader.term) lacks entry \(i + 1) committed in term \(c.term)")
        }
    }

    /// State Machine Safety, and that each node applies in log order.
    mutating func checkApplied(_ applied: [Entry], of id: NodeID, into report: inout ChaosReport) {
        let seen = appliedCount[id, default: 0]
        let from = applied.count < seen ? 0 : seen // restarted: it applies again from index 1
        for k in from..<applied.count {
            let entry = applied[k]
            if entry.index != UInt64(k + 1) { report.stateMachineSafety.append("node \(id) applied \(entry.index) out of order") }
            if let other = appliedAt[entry.index], other != entry {
                report.stateMachineSafety.append("index \(entry.index): \(other) and \(entry)")
            }
            appliedAt[entry.index] = entry
        }
        appliedCount[id] = applied.count
    }
}
