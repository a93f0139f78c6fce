import SimNet
import Testing

@Suite("SimNet: the randomized sweep reaches the received-snapshot paths")
struct SnapshotPathsCoverageTests {
    /// The paths a stale InstallSnapshot takes to a follower: restored off the loop behind
    /// another, held on a cut link and released with it, restored after the follower moved to
    /// a newer term; and the clean restarts that hand leadership over.
    static let paths = [
        "received snapshot overtaken before its restore", "stale snapshot restored", "cut link holding its traffic",
        "snapshot released after a cut", "clean restart", "leadership handed over at shutdown",
    ]

    @Test("20 short seeds reach every received-snapshot path at least once")
    func pathsReached() {
        var total = Coverage()
        for seed in UInt64(1)...20 {
            var options = SimOptions()
            options.simSeconds = 20
            total.merge(Simulation(seed: seed, options: options).runRandomized().coverage)
        }
        for path in Self.paths {
            #expect(total.count(path) > 0, "never happened in seeds 1...20: \(path)")
        }
    }
}
