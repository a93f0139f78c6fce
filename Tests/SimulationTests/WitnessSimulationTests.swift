import SimNet
import Testing

@Suite("SimNet: two full trackers and a witness")
struct WitnessSimulationTests {
    static func randomized(seed: UInt64, seconds: Int = 20, bug: PlantedBug = .none) -> SeedReport {
        var options = SimOptions()
        options.simSeconds = seconds
        options.hasWitness = true
        options.plantedBug = bug
        return Simulation(seed: seed, options: options).runRandomized()
    }

    @Test("randomized sweep with a witness: every fault kind, checkers on, no violation", arguments: 1...40)
    func sweep(seed: UInt64) {
        let report = Self.randomized(seed: seed)
        #expect(report.violation == nil, "seed \(seed): \(report.violation.map { "\($0)" } ?? "") — replay: tracker-sim --seed \(seed) --sim-seconds 20 --witness --trace")
        #expect(report.opsCompleted > 0)
    }

    @Test("a witness that votes without its mark is caught within 300 seeds, and replays to the same violation")
    func plantedWitnessVoteIsCaught() throws {
        var caught: SeedReport?
        for seed in UInt64(1)...300 {
            let report = Self.randomized(seed: seed, seconds: 60, bug: .witnessVotesWithoutMark)
            if report.violation != nil {
                caught = report
                break
            }
        }
        let report = try #require(caught, "no seed in 1...300 caught the witness voting without its mark")
        let replay = Self.randomized(seed: report.seed, seconds: 60, bug: .witnessVotesWithoutMark)
        #expect(replay.violation?.description == report.violation?.description)
        #expect(replay.traceHash == report.traceHash)
    }
}
