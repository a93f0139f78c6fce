import CommandLineFlags
import Foundation

// tracker-bench: committed writes per second and latency of a 3-tracker loopback cluster, and the
// unavailability window after SIGKILL of its leader. Each measurement prints one JSON line on
// stdout (prefixed by nothing, starting with '{'); a human summary follows.
//
//   tracker-bench load --binary PATH [--concurrency 1,16,64] [--seconds 10] [--warmup 1] [--round 1]
//                      [--tracker-args "--heartbeat-ms 50 --election-ms 150"]
//   tracker-bench failover --binary PATH [--trials 5] [--tracker-args "..."] [--attempt-ms 200]
//
// Every cluster lives in its own temporary folder, which is removed with its processes at the
// end of the measurement, on failure, on SIGINT/SIGTERM/SIGHUP, and (via PR_SET_PDEATHSIG, through
// setpriv) when tracker-bench itself is killed.

let usage = """
    usage: tracker-bench load --binary PATH [--concurrency 1,16,64] [--seconds 10] [--warmup 1] [--round N] [--tracker-args "..."]
           tracker-bench failover --binary PATH [--trials 5] [--round N] [--attempt-ms 200] [--tracker-args "..."]
    """

/// The mode, then each flag's text by name without its dashes (`values["seconds"]`).
var flags = FlagParser<(mode: String?, values: [String: String])>()
for name in ["binary", "concurrency", "seconds", "warmup", "round", "tracker-args", "trials", "attempt-ms"] {
    flags.value("--" + name, need: "needs a value") { o, v in o.values[name] = v; return true }
}
flags.positional = { o, argument in
    guard o.mode == nil, argument == "load" || argument == "failover" else { return false }
    o.mode = argument
    return true
}
flags.unknownFlagMessage = { "bad argument \($0)" }
flags.unexpectedArgumentMessage = { "bad argument \($0)" }
flags.validate = { $0.mode == nil ? "name a mode: load or failover" : nil }
let parsed = flags.parse(Array(CommandLine.arguments.dropFirst()), into: (nil, [:])).resolve(command: "tracker-bench", usage: usage)
let mode = parsed.mode ?? "load"
let values = parsed.values
guard let binary = values["binary"], FileManager.default.isExecutableFile(atPath: binary) else {
    stderrLine("tracker-bench: --binary must name the tracker-node executable\n\(usage)")
    exit(2)
}
// Sessions must outlive logins + warm-up + the timed part; this is not a Raft timing.
let trackerArguments = ["--lease-ms", "600000"]
    + (values["tracker-args"] ?? "").split(separator: " ").map(String.init)
let round = Int(values["round"] ?? "1") ?? 1
let trackerTimings = values["tracker-args"].map { $0.isEmpty ? "defaults" : $0 } ?? "defaults"

installCleanup()

switch mode {
case "load":
    let levels = (values["concurrency"] ?? "1,16,64").split(separator: ",").compactMap { Int($0) }
    let seconds = Double(values["seconds"] ?? "10") ?? 10
    let warmup = Double(values["warmup"] ?? "1") ?? 1
    guard !levels.isEmpty, levels.allSatisfy({ $0 >= 1 && $0 <= 512 }), seconds > 0, seconds <= 600 else {
        stderrLine("tracker-bench: bad --concurrency or --seconds")
        exit(2)
    }
    var outcomes: [LoadOutcome] = []
    var failures = 0
    for level in levels {
        do {
            let (o, segments) = try runLoad(binary: binary, concurrency: level, seconds: seconds, warmupSeconds: warmup,
                                round: round, trackerArguments: trackerArguments)
            outcomes.append(o)
            out(jsonLine([
                "system": "tracker", "mode": "load", "round": round, "conc": o.concurrency, "ok": o.ok,
                "errors": o.errors, "wall_s": Double(o.ok) / o.opsPerSecond, "ops_s": o.opsPerSecond, "p50_ms": o.p50, "p99_ms": o.p99,
                "p999_ms": o.p999, "max_ms": o.maxMillis, "tracker_cores": o.trackerCores,
                "leader_cores": o.leaderCores, "gen_cores": o.benchCores, "acked_total": o.ackedTotal,
                "groups_stored": o.groupsStored, "acked_missing": o.missing, "timings": trackerTimings,
                "segments": segments, "term_changes": o.termChanges, "first_error": o.firstError,
            ]))
        } catch {
            failures += 1
            stderrLine("tracker-bench: load at concurrency \(level) failed: \(error)")
            out(jsonLine(["system": "tracker", "mode": "load", "round": round, "conc": level, "failed": "\(error)"]))
        }
    }
    out("\ntracker load (round \(round), \(fmt(seconds, 0)) s per level, fsync on, timings: \(trackerTimings)):")
    out("  conc   writes/s   p50 ms   p99 ms  p99.9 ms   errors  tracker cores (leader)  bench cores  acked lost")
    for o in outcomes {
        out("  \(String(o.concurrency).padding(toLength: 5, withPad: " ", startingAt: 0))"
              + "  \(fmt(o.opsPerSecond, 0).leftPad(8))  \(fmt(o.p50).leftPad(7))  \(fmt(o.p99).leftPad(7))"
              + "  \(fmt(o.p999).leftPad(8))  \(String(o.errors).leftPad(7))"
              + "  \(fmt(o.trackerCores).leftPad(13)) (\(fmt(o.leaderCores)))  \(fmt(o.benchCores).leftPad(11))"
              + "  \(String(o.missing).leftPad(10))")
    }
    exit(failures == 0 ? 0 : 1)
default:
    let trials = Int(values["trials"] ?? "5") ?? 5
    let attempt = Int(values["attempt-ms"] ?? "200") ?? 200
    guard trials >= 1 && trials <= 100 else {
        stderrLine("tracker-bench: bad --trials")
        exit(2)
    }
    var outcomes: [FailoverOutcome] = []
    var failures = 0
    for trial in 1...trials {
        do {
            let o = try runFailoverTrial(binary: binary, trial: trial, trackerArguments: trackerArguments,
                                         attemptTimeoutMillis: attempt)
            outcomes.append(o)
            out(jsonLine([
                "system": "tracker", "mode": "failover", "round": round, "trial": trial,
                "window_s": o.windowMillis.map { $0 / 1000 } ?? Double.nan,
                "elected_s": o.electedMillis.map { $0 / 1000 } ?? Double.nan,
                "last_ack_before_kill_s": o.lastAckBeforeKillMillis.map { $0 / 1000 } ?? Double.nan,
                "old_leader": Int(o.oldLeader), "old_term": Int(o.oldTerm), "setup_term": Int(o.setupTerm), "new_leader": Int(o.newLeader),
                "new_term": Int(o.newTerm), "sent": o.sent, "acked": o.acked, "failed": o.failed,
                "stored": o.stored, "lost_acked": o.lostAcked, "failed_but_stored": o.failedButStored,
                "timings": trackerTimings,
            ]))
        } catch {
            failures += 1
            stderrLine("tracker-bench: failover trial \(trial) failed: \(error)")
            out(jsonLine(["system": "tracker", "mode": "failover", "round": round, "trial": trial, "failed": "\(error)"]))
        }
    }
    let windows = outcomes.compactMap(\.windowMillis)
    let electedTimes = outcomes.compactMap(\.electedMillis)
    out("\ntracker failover (round \(round), timings: \(trackerTimings)), \(outcomes.count) trials:")
    out("  windows ms: " + windows.map { fmt($0, 0) }.joined(separator: ", ")
          + " (median \(fmt(median(windows), 0)), min \(fmt(windows.min() ?? .nan, 0)), max \(fmt(windows.max() ?? .nan, 0)))")
    out("  kill → survivor reports leader ms: " + electedTimes.map { fmt($0, 0) }.joined(separator: ", "))
    out("  acked \(outcomes.reduce(0) { $0 + $1.acked }), lost acked \(outcomes.reduce(0) { $0 + $1.lostAcked }), "
          + "failed calls \(outcomes.reduce(0) { $0 + $1.failed }) (of which stored \(outcomes.reduce(0) { $0 + $1.failedButStored }))")
    exit(failures == 0 && windows.count == trials ? 0 : 1)
}

extension String {
    func leftPad(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}

/// Unbuffered line to stdout, so a pipe (tee) sees each measurement as it happens.
func out(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
