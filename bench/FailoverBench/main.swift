import CommandLineFlags
import Foundation
import ProcessHarness
import Synchronization
import TrackerClient
import TrackerProtocol

// failover-bench: two full trackers and a witness on loopback (real tracker-node processes).
// A client writes `create_group` back to back; the bench kills -9 a full tracker (the leader,
// or the follower), measures the write gap (last acknowledged write before the kill to the
// first after it), restarts it, waits until it has caught up, and repeats. Prints each gap and
// the medians; the target for a killed leader is a median of at most 500 ms.
//
//   swift run -c release failover-bench [--kills 7] [--binary .build/release/tracker-node]

struct Options {
    var kills = 7
    var binary = ""
    var electionMillis: UInt64 = 150

    static let usage = "usage: failover-bench [--kills N] [--binary PATH] [--election-ms 150]"

    static func parse() -> Options {
        var parser = FlagParser<Options>()
        parser.value("--kills", need: "needs a positive number") { o, v in
            guard let n = FlagValue.positive(v) else { return false }
            o.kills = Int(min(n, 1_000))
            return true
        }
        parser.value("--binary", need: "needs a path") { o, v in o.binary = v; return true }
        parser.value("--election-ms", need: "needs a positive number") { o, v in
            guard let n = FlagValue.positive(v) else { return false }
            o.electionMillis = max(20, n)
            return true
        }
        var o = parser.parse(Array(CommandLine.arguments.dropFirst()), into: Options()).resolve(command: "failover-bench", usage: usage)
        if o.binary.isEmpty { o.binary = TrackerCluster.builtBinary }
        return o
    }
}

extension ISO8601DateFormatter {
    /// UTC with milliseconds, as the trackers' logs print time.
    nonisolated(unsafe) static let withMillis: ISO8601DateFormatter = {
        // nonisolated(unsafe): configured once here, then only read (string(from:)) on the main thread.
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
}

func note(_ text: String) { FileHandle.standardError.write(Data("[failover-bench] \(text)\n".utf8)) }

/// Writes back to back from a thread of its own, recording when each write was acknowledged.
final class Writer: Sendable {
    private let acks = Mutex<[Date]>([])
    private let stopped = Atomic<Bool>(false)

    init(client: TrackerClient) {
        let thread = Thread { [self] in
            var n = 0
            var token: [UInt8] = []
            while !stopped.load(ordering: .relaxed) {
                if n % 900 == 0 || token.isEmpty {
                    let user = "bench\(n / 900)"
                    _ = try? client.call(.createUser(userID: user, password: "pw"))
                    guard case let .loggedIn(t, _)? = try? client.call(.login(userID: user, password: "pw", peerAddress: "127.0.0.1:1")) else { continue }
                    token = t
                }
                let group = "g\(n)"
                n += 1
                if (try? client.call(.command(.createGroup(groupID: group)), token: token)) == .result(.ok(.done)) {
                    acks.withLock { $0.append(Date()) }
                }
            }
        }
        thread.start()
    }

    var times: [Date] { acks.withLock { $0 } }
    func stop() { stopped.store(true, ordering: .relaxed) }

    /// Waits until `count` acknowledgements came after `since`.
    func waitFor(_ count: Int, after since: Date, timeoutSeconds: Double = 20) -> Bool {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            if times.count(where: { $0 > since }) >= count { return true }
            usleep(5_000)
        }
        return false
    }
}

let options = Options.parse()
signal(SIGPIPE, SIG_IGN)
// Two full trackers and a witness, pinned TLS as in production; every child dies with us.
let trackers = try TrackerCluster(size: 3, binary: options.binary, extraArguments: ["--election-ms", "\(options.electionMillis)"],
                                  witness: 3, prefix: "failover-bench")
let directory = trackers.directory

@MainActor func start(_ id: UInt64) throws { try trackers.start(id) }

@MainActor func kill9(_ id: UInt64) { trackers.kill(id) }

@MainActor func cleanUp() {
    // FAILOVER_BENCH_KEEP=1 keeps the trackers' logs and data for a look at the elections.
    if let kept = trackers.stop(keepDirectory: ProcessInfo.processInfo.environment["FAILOVER_BENCH_KEEP"] == "1") {
        note("kept \(kept)")
    }
}

let cluster = try trackers.config()
let statusClient = try TrackerClient(cluster: cluster)
func statuses() -> [TrackerStatus] { cluster.trackers.compactMap { try? statusClient.status(of: $0).get() } }
func leader(timeoutSeconds: Double = 10) -> UInt64? {
    let deadline = Date().addingTimeInterval(timeoutSeconds)
    while Date() < deadline {
        let all = statuses()
        if let l = all.first(where: { $0.role == .leader }), all.allSatisfy({ $0.term <= l.term }) { return l.id }
        usleep(10_000)
    }
    return nil
}
func caughtUp(_ id: UInt64, timeoutSeconds: Double = 20) -> Bool {
    let deadline = Date().addingTimeInterval(timeoutSeconds)
    while Date() < deadline {
        let all = statuses()
        if let l = all.first(where: { $0.role == .leader }), let s = all.first(where: { $0.id == id }), s.appliedIndex >= l.commitIndex { return true }
        usleep(20_000)
    }
    return false
}

for id in UInt64(1)...3 { try start(id) }
guard leader() != nil else {
    note("no leader elected")
    cleanUp()
    exit(1)
}
let writer = Writer(client: try TrackerClient(cluster: cluster))
_ = writer.waitFor(200, after: .distantPast)
var gaps: [String: [Double]] = ["leader": [], "follower": []]
for round in 0..<(2 * options.kills) {
    let kind = round % 2 == 0 ? "leader" : "follower"
    guard let current = leader() else { note("no leader before round \(round)"); break }
    let victim: UInt64 = kind == "leader" ? current : (current == 1 ? 2 : 1)
    _ = writer.waitFor(100, after: Date())
    let killedAt = Date()
    kill9(victim)
    // When a leader (other than the victim) is known again: the election's part of the gap.
    var electedAt: Date?
    if kind == "leader" {
        let deadline = Date().addingTimeInterval(10)
        while electedAt == nil && Date() < deadline {
            if let l = statuses().first(where: { $0.role == .leader && $0.id != victim }) { electedAt = Date(); _ = l } else { usleep(2_000) }
        }
    }
    guard writer.waitFor(20, after: killedAt) else { note("writes did not resume (round \(round))"); break }
    // The gap: the longest pause between consecutive acknowledgements around the kill (a write
    // whose answer was on its way when the leader died is acknowledged just after the kill).
    let times = writer.times.filter { $0 > killedAt.addingTimeInterval(-0.2) }
    let gap = zip(times, times.dropFirst()).map { $1.timeIntervalSince($0) }.max().map { $0 * 1_000 } ?? .nan
    gaps[kind]!.append(gap)
    let election = electedAt.map { String(format: "%6.1f ms", $0.timeIntervalSince(killedAt) * 1_000) } ?? "     -   "
    print(String(format: "kill %2d  %-8@  tracker %llu  write gap %7.1f ms  new leader after %@  (killed at %@)", round + 1, kind as NSString, victim, gap,
                 election as NSString, ISO8601DateFormatter.withMillis.string(from: killedAt) as NSString))
    try start(victim)
    guard caughtUp(victim) else { note("tracker \(victim) did not catch up"); break }
}
writer.stop()
// Memory and disk of each tracker after the run: the witness's stay small whatever was written.
func residentKiB(_ pid: Int32) -> Int {
    let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    let line = text.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
}
func directoryBytes(_ path: String) -> Int {
    let files = (try? FileManager.default.subpathsOfDirectory(atPath: path)) ?? []
    return files.reduce(0) { $0 + (((try? FileManager.default.attributesOfItem(atPath: path + "/" + $1))?[.size] as? Int) ?? 0) }
}
for id in UInt64(1)...3 {
    let role = id == 3 ? "witness" : "full"
    print(String(format: "tracker %llu (%@): resident memory %d KiB, data directory %d bytes", id, role as NSString,
                 trackers.pid(id).map { residentKiB($0) } ?? -1, directoryBytes(trackers.dataDirectory(id))))
}
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}
for kind in ["leader", "follower"] {
    let values = gaps[kind]!
    print(String(format: "%@ killed: median gap %.1f ms, max %.1f ms over %d kills", kind as NSString, median(values), values.max() ?? .nan, values.count))
}
print(String(format: "acknowledged writes: %d; election timeout %d ms (drawn in [E, 2E)); target: median gap after a leader kill <= 500 ms: %@",
             writer.times.count, options.electionMillis, (median(gaps["leader"]!) <= 500 ? "met" : "NOT met") as NSString))
cleanUp()
