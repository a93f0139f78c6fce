#if canImport(Glibc)
import Glibc
#endif
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

    static func parse(_ argv: [String]) -> Arguments {
        var args = Arguments()
        var i = 0
        func value() -> String {
            i += 1
            guard i < argv.count else { fail("\(argv[i - 1]) needs a value") }
            return argv[i]
        }
        func number(_ text: String) -> UInt64 {
            guard let n = UInt64(text) else { fail("not a number: \(text)") }
            return n
        }
        while i < argv.count {
            switch argv[i] {
            case "--help", "-h":
                print(usage)
                exit(0)
            case "--seeds": args.seedCount = number(value())
            case "--seed":
                args.firstSeed = number(value())
                args.seedCount = 1
            case "--trace": args.isTracing = true
            case "--progress": args.isShowingProgress = true
            case "--coverage": args.isShowingCoverage = true
            case "--nodes": args.nodes = Int(number(value()))
            case "--clients": args.clients = Int(number(value()))
            case "--sim-seconds": args.simSeconds = Int(number(value()))
            case "--witness": args.hasWitness = true
            case "--planted-bug":
                let name = value()
                guard let bug = PlantedBug(rawValue: name) else { fail("unknown planted bug \(name)") }
                args.plantedBug = bug
            default: fail("unknown argument \(argv[i])")
            }
            i += 1
        }
        guard SimOptions.nodeCountRange.contains(args.nodes) else { fail("--nodes must be 2 to 7") }
        guard !args.hasWitness || args.nodes >= 3 else { fail("--witness needs --nodes 3 or more") }
        guard args.plantedBug != .witnessVotesWithoutMark || args.hasWitness else { fail("--planted-bug witness-votes-without-mark needs --witness") }
        guard args.simSeconds >= 2 * SimOptions.recoverySeconds else { fail("--sim-seconds must be at least \(2 * SimOptions.recoverySeconds)") }
        guard args.clients <= SimOptions.clientCountMax else { fail("--clients must be at most \(SimOptions.clientCountMax)") }
        return args
    }

    static func fail(_ message: String) -> Never {
        FileHandleShim.writeError("tracker-sim: \(message)\n\(usage)\n")
        exit(2)
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

let args = Arguments.parse(Array(CommandLine.arguments.dropFirst()))
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
