import SimNet
import Testing

@Suite("SimNet determinism and the randomized sweep")
struct DeterminismTests {
    static func randomized(seed: UInt64, seconds: Int = 20, bug: PlantedBug = .none) -> SeedReport {
        var options = SimOptions()
        options.simSeconds = seconds
        options.plantedBug = bug
        return Simulation(seed: seed, options: options).runRandomized()
    }

    @Test("the same seed gives a byte-identical trace; another seed gives another")
    func sameSeedSameTrace() {
        let first = Self.randomized(seed: 42)
        let second = Self.randomized(seed: 42)
        let other = Self.randomized(seed: 43)
        #expect(first.traceHash == second.traceHash)
        #expect(first.eventCount == second.eventCount)
        #expect(first.traceHash != other.traceHash)
        #expect(first.eventCount > 1_000)
    }

    @Test("randomized sweep: faults, load, heal, recovery, no violation", arguments: 1...160)
    func sweep(seed: UInt64) {
        let report = Self.randomized(seed: seed)
        #expect(report.violation == nil, "seed \(seed): \(report.violation.map { "\($0)" } ?? "") — replay: tracker-sim --seed \(seed) --sim-seconds 20 --trace")
        #expect(report.opsCompleted > 0)
    }

    @Test("a run with a skipped vote fsync is caught, and replays to the same violation")
    func plantedSkippedFsyncIsCaught() throws {
        var caught: SeedReport?
        for seed in UInt64(1)...300 {
            let report = Self.randomized(seed: seed, seconds: 60, bug: .skipVoteFsync)
            if report.violation != nil {
                caught = report
                break
            }
        }
        let report = try #require(caught, "no seed in 1...300 caught the skipped fsync")
        let replay = Self.randomized(seed: report.seed, seconds: 60, bug: .skipVoteFsync)
        #expect(replay.violation?.description == report.violation?.description)
        #expect(replay.traceHash == report.traceHash)
    }
}
