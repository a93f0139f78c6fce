import SimNet
import Testing

/// A scripted simulation: no random faults, client load on, faults only where the test puts them.
func makeScenario(seed: UInt64, nodes: Int = 3, clients: Int = 3) -> Simulation {
    var options = SimOptions()
    options.nodeCount = nodes
    options.clientCount = clients
    options.isFaultInjectionOn = false
    return Simulation(seed: seed, options: options)
}

/// Fails the test with the simulation's first violation, if any.
func expectNoViolation(_ sim: Simulation, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(sim.violations.isEmpty, "seed \(sim.seed): \(sim.violations.first.map { "\($0)" } ?? "")", sourceLocation: sourceLocation)
}
