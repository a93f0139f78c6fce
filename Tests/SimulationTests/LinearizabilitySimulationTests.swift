@testable import SimNet
import Testing

/// The linearizability check inside the simulator: it sees every operation kind the clients
/// issue, passes a clean run and catches a planted stale read.
@Suite("Linearizability check of simulated runs")
struct LinearizabilitySimulationTests {
    static func run(seed: UInt64, bug: PlantedBug = .none) -> (Simulation, SeedReport) {
        var options = SimOptions()
        options.plantedBug = bug
        let sim = Simulation(seed: seed, options: options)
        return (sim, sim.runRandomized())
    }

    /// A name for the kind of an operation, and whether it succeeded.
    static func kind(_ call: TrackerCall) -> String {
        String("\(call)".prefix { $0 != "(" })
    }

    @Test("a clean run records and checks every operation kind the spec covers, each succeeding at least once")
    func cleanRunCoversEveryKind() throws {
        let (sim, report) = Self.run(seed: 7)
        #expect(report.violation == nil, "\(report.violation.map { "\($0)" } ?? "")")
        let checked = try #require(sim.linearizabilityReport)
        #expect(checked.failures.isEmpty && checked.inconclusive.isEmpty)
        #expect(checked.partitionCount > 10)
        var succeeded: Set<String> = []
        for operation in sim.history.operations {
            switch operation.output {
            case .result(.ok), .loggedIn: succeeded.insert(Self.kind(operation.input))
            default: break
            }
        }
        let kinds = ["createUser", "login", "logout", "keepAlive", "createGroup", "joinGroup", "acceptRequest", "leaveGroup",
                     "listRequests", "listGroups", "uploadFile", "listFiles", "downloadInfo"]
        #expect(kinds.filter { !succeeded.contains($0) } == [])
        #expect(sim.history.operations.count == report.opsCompleted)
    }

    @Test("a planted stale read (any tracker answers queries without ReadIndex) fails the linearizability check, and replays")
    func plantedStaleReadIsCaught() throws {
        var caught: SeedReport?
        for seed in UInt64(1)...60 {
            let (_, report) = Self.run(seed: seed, bug: .staleRead)
            if report.violation?.invariant == "linearizability" {
                caught = report
                break
            }
        }
        let report = try #require(caught, "no seed in 1...60 failed the linearizability check")
        #expect(report.violation?.detail.contains("partition group:") == true)
        let (_, replay) = Self.run(seed: report.seed, bug: .staleRead)
        #expect(replay.violation?.description == report.violation?.description)
        #expect(replay.traceHash == report.traceHash)
    }
}
