import Foundation

// tracker-bench: committed writes per second and latency of a 3-tracker loopback cluster, and the
// unavailability window after SIGKILL of its leader. Each measurement prints one JSON line on
// stdout (prefixed by nothing, starting with '{'); a human summary follows.
//
//   tracker-bench load --binary PATH [--concurrency 1,16,64] [--seconds 10] [--warmup 1] [--round 1]
//                      [--tracker-args "--heartbeat-ms 50 --election-ms 150"] [--security tls|insecure|both]
// --security (default tls): pinned TLS everywhere, or plaintext (trackers run --insecure), or
// both in the same run, each level in plaintext then TLS, with TLS as a share of plaintext.
//   tracker-bench failover --binary PATH [--trials 5] [--tracker-args "..."] [--attempt-ms 200] [--security tls|insecure]
//   tracker-bench sessions --binary PATH [--clients 1000,5000,10000,20000] [--sessions 200]
//                          [--idle-seconds 5] [--load-seconds 5] [--tracker-args "..."] [--security tls|insecure]
// failover, sessions and logins (default tls) run one mode: their keepalive fleet and clients
// speak TLS to pinned trackers, or plaintext to trackers run with --insecure.
//   tracker-bench logins --binary PATH [--users 1000] [--tracker-args "..."] [--security tls|insecure]
//
// Every cluster lives in its own temporary folder, which is removed with its processes at the
// end of the measurement, on failure, on SIGINT/SIGTERM/SIGHUP, and (via PR_SET_PDEATHSIG, through
// setpriv) when tracker-bench itself is killed.

let usage = """
    usage: tracker-bench load --binary PATH [--concurrency 1,16,64] [--seconds 10] [--warmup 1] [--round N] [--tracker-args "..."]
                              [--security tls|insecure|both]
           tracker-bench failover --binary PATH [--trials 5] [--round N] [--attempt-ms 200] [--tracker-args "..."] [--security tls|insecure]
           tracker-bench sessions --binary PATH [--clients 1000,5000,10000,20000] [--sessions 200] [--idle-seconds 5] [--load-seconds 5]
                                  [--tracker-args "..."] [--security tls|insecure]
           tracker-bench logins --binary PATH [--users 1000] [--tracker-args "..."] [--security tls|insecure]
    """

var arguments = Array(CommandLine.arguments.dropFirst())
guard let mode = arguments.first, ["load", "failover", "sessions", "logins"].contains(mode) else {
    stderrLine(usage)
    exit(2)
}
arguments.removeFirst()
var values: [String: String] = [:]
var index = 0
while index < arguments.count {
    let flag = arguments[index]
    guard flag.hasPrefix("--"), index + 1 < arguments.count else {
        stderrLine("tracker-bench: bad argument \(flag)\n\(usage)")
        exit(2)
    }
    values[String(flag.dropFirst(2))] = arguments[index + 1]
    index += 2
}
guard let binary = values["binary"], FileManager.default.isExecutableFile(atPath: binary) else {
    stderrLine("tracker-bench: --binary must name the tracker-node executable\n\(usage)")
    exit(2)
}
// Sessions must outlive logins + warm-up + the timed part; this is not a Raft timing.
let trackerArguments = ["--lease-ms", "600000"]
    + (values["tracker-args"] ?? "").split(separator: " ").map(String.init)
let round = Int(values["round"] ?? "1") ?? 1
let trackerTimings = values["tracker-args"].map { $0.isEmpty ? "defaults" : $0 } ?? "defaults"
// What failover, sessions and logins add to the trackers' arguments for their one --security mode.
let singleSecurityArguments: [String]? = switch values["security"] ?? "tls" {
case "tls": []
case "insecure": ["--insecure"]
default: nil
}
if mode != "load", singleSecurityArguments == nil {
    stderrLine("tracker-bench: --security is tls or insecure for \(mode)")
    exit(2)
}

SignalGuard.shared.install()

switch mode {
case "load":
    let levels = (values["concurrency"] ?? "1,16,64").split(separator: ",").compactMap { Int($0) }
    let seconds = Double(values["seconds"] ?? "10") ?? 10
    let warmup = Double(values["warmup"] ?? "1") ?? 1
    guard !levels.isEmpty, levels.allSatisfy({ $0 >= 1 && $0 <= 512 }), seconds > 0, seconds <= 600 else {
        stderrLine("tracker-bench: bad --concurrency or --seconds")
        exit(2)
    }
    let securities: [String]
    switch values["security"] ?? "tls" {
    case "tls": securities = ["tls"]
    case "insecure": securities = ["insecure"]
    case "both": securities = ["insecure", "tls"]
    default:
        stderrLine("tracker-bench: --security is tls, insecure or both")
        exit(2)
    }
    var outcomes: [(security: String, outcome: LoadOutcome)] = []
    var failures = 0
    for level in levels {
        for security in securities {
        do {
            let (o, segments) = try runLoad(binary: binary, concurrency: level, seconds: seconds, warmupSeconds: warmup,
                                round: round, trackerArguments: trackerArguments + (security == "insecure" ? ["--insecure"] : []))
            outcomes.append((security, o))
            out(jsonLine([
                "system": "tracker", "mode": "load", "security": security, "round": round, "conc": o.concurrency, "ok": o.ok,
                "errors": o.errors, "wall_s": Double(o.ok) / o.opsPerSecond, "ops_s": o.opsPerSecond, "p50_ms": o.p50, "p99_ms": o.p99,
                "p999_ms": o.p999, "max_ms": o.maxMillis, "tracker_cores": o.trackerCores,
                "leader_cores": o.leaderCores, "gen_cores": o.benchCores, "acked_total": o.ackedTotal,
                "groups_stored": o.groupsStored, "acked_missing": o.missing, "timings": trackerTimings,
                "segments": segments, "term_changes": o.termChanges, "first_error": o.firstError,
            ]))
        } catch {
            failures += 1
            stderrLine("tracker-bench: load at concurrency \(level) (\(security)) failed: \(error)")
            out(jsonLine(["system": "tracker", "mode": "load", "security": security, "round": round, "conc": level, "failed": "\(error)"]))
        }
        }
    }
    out("\ntracker load (round \(round), \(fmt(seconds, 0)) s per level, fsync on, timings: \(trackerTimings)):")
    out("  security  conc   writes/s   p50 ms   p99 ms  p99.9 ms   errors  tracker cores (leader)  bench cores  acked lost")
    for (security, o) in outcomes {
        out("  \(security.padding(toLength: 8, withPad: " ", startingAt: 0))  \(String(o.concurrency).padding(toLength: 5, withPad: " ", startingAt: 0))"
              + "  \(fmt(o.opsPerSecond, 0).leftPad(8))  \(fmt(o.p50).leftPad(7))  \(fmt(o.p99).leftPad(7))"
              + "  \(fmt(o.p999).leftPad(8))  \(String(o.errors).leftPad(7))"
              + "  \(fmt(o.trackerCores).leftPad(13)) (\(fmt(o.leaderCores)))  \(fmt(o.benchCores).leftPad(11))"
              + "  \(String(o.missing).leftPad(10))")
    }
    for level in levels {
        guard let plain = outcomes.first(where: { $0.security == "insecure" && $0.outcome.concurrency == level })?.outcome,
              let tls = outcomes.first(where: { $0.security == "tls" && $0.outcome.concurrency == level })?.outcome,
              plain.opsPerSecond > 0 else { continue }
        out("  c=\(level): TLS writes/s are \(fmt(100 * tls.opsPerSecond / plain.opsPerSecond, 1)) % of plaintext (target >= 90 %)")
    }
    exit(failures == 0 ? 0 : 1)
case "logins":
    // Every login comes from 127.0.0.1: lift the per-address password rate a real cluster keeps.
    let users = Int(values["users"] ?? "1000") ?? 1000
    guard (1...20_000).contains(users) else {
        stderrLine("tracker-bench: bad --users (1...20000)")
        exit(2)
    }
    do {
        let result = try runLogins(binary: binary, users: users,
                                   trackerArguments: ["--password-rate", "1000000"] + trackerArguments + (singleSecurityArguments ?? []))
        printLogins(result, timings: trackerTimings)
        exit(result.failures.isEmpty ? 0 : 1)
    } catch {
        stderrLine("tracker-bench: logins failed: \(error)")
        exit(1)
    }
case "sessions":
    let levels = (values["clients"] ?? "0,1000,5000,10000,20000").split(separator: ",").compactMap { Int($0) }
    let sessionCount = Int(values["sessions"] ?? "200") ?? 200
    let idle = Double(values["idle-seconds"] ?? "5") ?? 5
    let load = Double(values["load-seconds"] ?? "5") ?? 5
    guard !levels.isEmpty, levels.allSatisfy({ $0 >= 0 && $0 <= 100_000 }), levels == levels.sorted(), sessionCount >= 1,
          idle > 0, load > 0 else {
        stderrLine("tracker-bench: bad --clients (ascending, 0...100000), --sessions or seconds")
        exit(2)
    }
    do {
        let results = try runSessions(binary: binary, levels: levels, sessionCount: sessionCount, idleSeconds: idle,
                                      loadSeconds: load, trackerArguments: trackerArguments + (singleSecurityArguments ?? []))
        printSessions(results, sessionCount: sessionCount, timings: trackerTimings)
        exit(0)
    } catch {
        stderrLine("tracker-bench: sessions failed: \(error)")
        exit(1)
    }
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
            let o = try runFailoverTrial(binary: binary, trial: trial, trackerArguments: trackerArguments + (singleSecurityArguments ?? []),
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
                "timings": trackerTimings, "security": values["security"] ?? "tls",
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

func printSessions(_ results: [SessionsLevel], sessionCount: Int, timings: String) {
    for r in results {
        out(jsonLine([
            "system": "tracker", "mode": "sessions", "clients": r.clients, "sessions": sessionCount,
            "leader_idle_cores": r.idleCores, "keepalives_s": r.keepalivesPerSecond, "keepalive_raft_writes_s": r.keepaliveWritesPerSecond,
            "keepalives_refused": r.keepalivesRefused, "connections_lost": r.connectionsLost, "leader_rss_mib": r.rssMiB,
            "leader_fds": r.descriptors, "load_c16_writes_s": r.loadWritesPerSecond, "load_p50_ms": r.loadP50,
            "load_p99_ms": r.loadP99, "load_errors": r.loadErrors, "leader_load_cores": r.loadCores, "timings": timings,
        ]))
    }
    out("\ntracker sessions (one leader; keepalive every 3 s per client; \(sessionCount) sessions shared; timings: \(timings)):")
    out("  clients  idle cores  keepalives/s  raft writes/s  RSS MiB   fds  c16 writes/s  p50 ms  p99 ms  errors  lost")
    for r in results {
        out("  \(String(r.clients).leftPad(7))  \(fmt(r.idleCores, 3).leftPad(10))  \(fmt(r.keepalivesPerSecond, 0).leftPad(12))"
              + "  \(fmt(r.keepaliveWritesPerSecond, 1).leftPad(13))  \(fmt(r.rssMiB, 0).leftPad(7))  \(String(r.descriptors).leftPad(5))"
              + "  \(fmt(r.loadWritesPerSecond, 0).leftPad(12))  \(fmt(r.loadP50).leftPad(6))  \(fmt(r.loadP99).leftPad(6))"
              + "  \(String(r.loadErrors).leftPad(6))  \(String(r.connectionsLost).leftPad(4))")
    }
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
