#if canImport(Glibc)
import Glibc
#endif
import CommandLineFlags
import SimNet

/// tracker-sim: runs seeded simulations of a tracker cluster and reports broken invariants.
/// The simulations themselves read no clock; this command times its own wall clock only for
/// the speed figure.
struct Arguments {
    var firstSeed: UInt64 = 1
    var seedCount: UInt64 = 100
    var nodes = 3
    var clients = 3
    var simSeconds = 60
    var isTracing = false
    var isShowingProgress = false
    var plantedBug: PlantedBug = .none
    var hasWitness = false
    var isShowingCoverage = false

    static let usage = """
        usage: tracker-sim [--seeds N | --seed S [--trace]] [--nodes K] [--clients C]
                           [--sim-seconds T] [--progress] [--witness] [--planted-bug \(PlantedBug.allCases.map(\.rawValue).joined(separator: "|"))]
          --seeds N        run seeds 1...N (default 100)
          --seed S         run one seed; with --trace print its events
          --nodes K        trackers, 2 to 7 (default 3)
          --clients C      simulated clients (default 3)
          --witness        the last tracker is a witness (votes, holds no log, never leads)
          --sim-seconds T  simulated seconds per seed, at least 20 (default 60)
          --coverage       print the coverage table even for one seed (a sweep always does)
          --progress       write "seed N" to stderr before each seed (unbuffered), so a hang or a
                           kill still shows the seed; a trap always names its seed
        """

    /// The command line read into arguments, or help, or what is wrong with it.
    static func parse(_ argv: [String]) -> FlagOutcome<Arguments> {
        var parser = FlagParser<Arguments>()
        let numbers: [(String, (inout Arguments, UInt64) -> Void)] = [
            ("--seeds", { $0.seedCount = $1 }), ("--seed", { $0.firstSeed = $1; $0.seedCount = 1 }),
            ("--nodes", { $0.nodes = Int(clamping: $1) }), ("--clients", { $0.clients = Int(clamping: $1) }),
            ("--sim-seconds", { $0.simSeconds = Int(clamping: $1) }),
        ]
        for (name, set) in numbers {
            parser.value(name, need: "needs a number") { args, text in
                guard let n = UInt64(text) else { return false }
                set(&args, n)
                return true
            }
        }
        parser.toggle("--trace") { $0.isTracing = true }
        parser.toggle("--progress") { $0.isShowingProgress = true }
        parser.toggle("--coverage") { $0.isShowingCoverage = true }
        parser.toggle("--witness") { $0.hasWitness = true }
        parser.value("--planted-bug", need: "needs one of \(PlantedBug.allCases.map(\.rawValue).joined(separator: ", "))") { args, name in
            guard let bug = PlantedBug(rawValue: name) else { return false }
            args.plantedBug = bug
            return true
        }
        parser.validate = { args in
            guard SimOptions.nodeCountRange.contains(args.nodes) else { return "--nodes must be 2 to 7" }
            guard !args.hasWitness || args.nodes >= 3 else { return "--witness needs --nodes 3 or more" }
            guard args.plantedBug != .witnessVotesWithoutMark || args.hasWitness else { return "--planted-bug witness-votes-without-mark needs --witness" }
            guard args.simSeconds >= 2 * SimOptions.recoverySeconds else { return "--sim-seconds must be at least \(2 * SimOptions.recoverySeconds)" }
            guard args.clients <= SimOptions.clientCountMax else { return "--clients must be at most \(SimOptions.clientCountMax)" }
            return nil
        }
        return parser.parse(argv, into: Arguments())
    }

    var options: SimOptions {
        var o = SimOptions()
        o.nodeCount = nodes
        o.clientCount = clients
        o.simSeconds = simSeconds
        o.plantedBug = plantedBug
        o.hasWitness = hasWitness
        if isTracing { o.traceSink = { print($0) } }
        return o
    }

    func replayCommand(seed: UInt64) -> String {
        var command = "tracker-sim --seed \(seed) --nodes \(nodes) --clients \(clients) --sim-seconds \(simSeconds)"
        if hasWitness { command += " --witness" }
        if plantedBug != .none { command += " --planted-bug \(plantedBug.rawValue)" }
        return command + " --trace"
    }
}

enum FileHandleShim {
    static func writeError(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }
}

let args = Arguments.parse(Array(CommandLine.arguments.dropFirst())).resolve(command: "tracker-sim", usage: Arguments.usage)
TrapReporter.install()
let clock = ContinuousClock()
let started = clock.now
var violations = 0
var simMillis: UInt64 = 0
var firstFailingSeed: UInt64?
var coverage = Coverage()
var linearizabilityOperations = 0
var linearizabilitySteps = 0
var inconclusivePartitions = 0
for seed in args.firstSeed..<(args.firstSeed + args.seedCount) {
    TrapReporter.currentSeed.store(seed, ordering: .relaxed)
    if args.isShowingProgress { FileHandleShim.writeError("seed \(seed)\n") }
    let simulation = Simulation(seed: seed, options: args.options)
    let report = simulation.runRandomized()
    simMillis += report.simMillis
    coverage.merge(report.coverage)
    let linearizability = simulation.linearizabilityReport
    linearizabilityOperations += linearizability?.operationCount ?? 0
    linearizabilitySteps += linearizability?.stepCount ?? 0
    inconclusivePartitions += linearizability?.inconclusive.count ?? 0
    for partition in linearizability?.inconclusive ?? [] { print("seed \(seed): linearizability inconclusive for \(partition) (step bound)") }
    if let violation = report.violation {
        violations += 1
        if firstFailingSeed == nil { firstFailingSeed = seed }
        print("FAIL seed \(seed): \(violation.invariant)")
        print("  \(violation)")
        print("  profile: \(report.profile)")
        for line in simulation.nodeSummaries { print("  \(line)") }
        print("  replay: \(args.replayCommand(seed: seed))")
    } else if args.seedCount == 1 {
        print("seed \(seed) ok: trace hash \(String(report.traceHash, radix: 16)) events \(report.eventCount) ops \(report.opsCompleted) "
              + "unknown \(report.opsUnknown) writes acked \(report.writesAcked) leaders elected \(report.leadersElected) "
              + "linearizability partitions \(linearizability?.partitionCount ?? 0) operations \(linearizability?.operationCount ?? 0) "
              + "steps \(linearizability?.stepCount ?? 0)")
    }
}
let elapsed = clock.now - started
let wallSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
let simSeconds = Double(simMillis) / 1_000
let speed = wallSeconds > 0 ? simSeconds / wallSeconds : 0
if args.seedCount > 1 || args.isShowingCoverage {
    print("coverage (events summed over \(args.seedCount) seeds):")
    for row in coverage.rows { print("  \(row.name): \(row.count)") }
    if !coverage.missing.isEmpty { print("coverage gaps (never happened): \(coverage.missing.joined(separator: ", "))") }
}
let first = firstFailingSeed.map { " first-failing-seed=\($0)" } ?? ""
print("seeds=\(args.seedCount) violations=\(violations)\(first) linearizability-operations=\(linearizabilityOperations) "
      + "linearizability-steps=\(linearizabilitySteps) inconclusive-partitions=\(inconclusivePartitions) sim-seconds=\(Int(simSeconds)) wall-seconds=\(String(format: wallSeconds)) sim-seconds-per-wall-second=\(Int(speed))")
exit(violations == 0 ? 0 : 1)

func String(format value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}
