import SimNet
import Testing

/// Membership changes in the simulator: Ongaro's 2015 history replayed through the real hosts
/// (caught with `config-before-term-commit`, harmless without), and a few randomized seeds
/// with membership changes during faults, clean.
@Suite("simulated membership changes")
struct MembershipSimulationTests {
    /// Four voters. Leader L1 appends "remove c" and is cut off at once (its entry reaches
    /// nobody). The others elect L2, which loses its link to one voter x before its first
    /// append arrives and is asked soon after to remove L1. With the planted bug it accepts,
    /// and commits the removal under the new configuration {a, b, c} with the voter it still
    /// reaches. Then {L1, x} are together: under L1's own configuration {L1, a, b} they are a
    /// quorum, L1 wins the next term and overwrites the committed removal.
    func ongaroHistory(isBugPlanted: Bool) -> Simulation {
        var options = SimOptions()
        options.nodeCount = 4
        options.clientCount = 2
        options.isFaultInjectionOn = false
        options.isMembershipOn = true
        options.plantedBug = isBugPlanted ? .configBeforeTermCommit : .none
        let sim = Simulation(seed: 11, options: options)
        sim.run(untilMillis: 3_000) // elected, and seed members pinned
        guard let first = sim.leaderIndex else { return sim }
        let others = (0..<4).filter { $0 != first }
        sim.askRemoval(of: UInt64(others[2] + 1), at: first)
        sim.isolate(first)
        _ = sim.runUntil(maxMillis: 5_000) { s in s.leaderIndex.map { $0 != first } ?? false }
        guard let second = sim.leaderIndex, second != first else { return sim }
        let cut = others.first { $0 != second && $0 != others[2] }!
        sim.cutOneWay(from: second, to: cut)
        // Once the voter it still reaches has answered (a change must not lose the quorum),
        // before its term's first entry commits (it cannot: 3 of the 4 voters are needed).
        sim.run(untilMillis: sim.nowMillis + 50)
        sim.askRemoval(of: UInt64(first + 1), at: second)
        sim.run(untilMillis: sim.nowMillis + 300)
        sim.healNetwork()
        sim.partition([first, cut])
        sim.run(untilMillis: sim.nowMillis + 3_000)
        sim.healNetwork()
        sim.finishScenario()
        return sim
    }

    @Test("config-before-term-commit: a committed entry is lost, and a checker says so")
    func plantedBugCaught() {
        let sim = ongaroHistory(isBugPlanted: true)
        #expect(sim.hasViolation, "the planted bug went unnoticed")
    }

    @Test("the same history without the bug: the new leader waits for its term's first commit; no violation")
    func historyWithoutBugIsSafe() {
        let sim = ongaroHistory(isBugPlanted: false)
        expectNoViolation(sim)
    }

    @Test("tracker-sim --seed 16 --membership --planted-bug config-before-term-commit: the randomized run catches it")
    func plantedBugCaughtRandomized() {
        var options = SimOptions()
        options.isMembershipOn = true
        options.plantedBug = .configBeforeTermCommit
        let report = Simulation(seed: 16, options: options).runRandomized()
        #expect(report.violation?.invariant == "leader completeness", "\(report.violation.map { "\($0)" } ?? "no violation")")
    }

    @Test("a membership seed replays: the same seed gives the same trace")
    func membershipSeedReplays() {
        var options = SimOptions()
        options.isMembershipOn = true
        options.simSeconds = 20
        let first = Simulation(seed: 5, options: options).runRandomized()
        let again = Simulation(seed: 5, options: options).runRandomized()
        #expect(first.traceHash == again.traceHash && first.eventCount == again.eventCount)
        #expect(first.coverage.count("membership add learner") > 0)
    }

    @Test("a few randomized seeds with membership changes during faults are clean and exercise every kind")
    func randomizedSeedsClean() {
        var options = SimOptions()
        options.isMembershipOn = true
        options.simSeconds = 30
        var coverage = Coverage()
        for seed: UInt64 in 1...6 {
            let report = Simulation(seed: seed, options: options).runRandomized()
            #expect(report.violation == nil, "seed \(seed): \(report.violation.map { "\($0)" } ?? "")")
            coverage.merge(report.coverage)
        }
        for kind in ["add learner", "promote", "remove"] { #expect(coverage.count("membership \(kind)") > 0, "\(kind)") }
    }
}
