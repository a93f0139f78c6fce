// snapshot-bench: snapshots and log compaction of a real 3-tracker cluster holding a large state.
//
// It seeds the state in-process (100,000 users, 10,000 groups, 100,000 files of 64 MiB: creating
// the users over the network would cost an hour of PBKDF2 on the leader), writes it as the
// snapshot of three data directories, starts three tracker-node processes on 127.0.0.1 from them,
// makes N committed writes (keepalives of logged-in bench users) at concurrency C, then measures:
// each data directory's size, restart time (kill -9 of a follower, then of the leader), and the
// catch-up time of a wiped tracker. One JSON line per figure on stdout, then a human summary.
// Every process it starts is killed, and its temporary folder removed, whatever happens.
import Consensus
import DurableLog
import Foundation
import Hashing
import Networking
import Synchronization
import TestSupport
import TrackerClient
import TrackerProtocol
import TrackerStateMachine

// MARK: - Options

struct Options: Sendable {
    var binary = ".build-snap/release/tracker-node"
    var writes = 1_000_000
    var concurrency = 64
    var benchUsers = 16
    var users = 100_000
    var groups = 10_000
    var filesPerGroup = 10
    var piecesPerFile = 128
    var snapshotEntries: UInt64 = 10_000
    var writeSeconds = 2_400
    var maxSeconds = 3_600
    var ddMegabytes = 512
    var tempParent = FileManager.default.temporaryDirectory.path

    static let usage = """
        usage: snapshot-bench [--binary PATH] [--writes 1000000] [--concurrency 64] [--bench-users 16]
                              [--users 100000] [--groups 10000] [--files-per-group 10] [--pieces-per-file 128]
                              [--snapshot-entries 10000] [--write-seconds 2400] [--max-seconds 3600]
                              [--dd-mb 512 (0: skip)] [--temp DIR]
        """

    static func parse(_ arguments: [String]) -> Options {
        var options = Options()
        var i = 0
        func bad(_ message: String) -> Never {
            FileHandle.standardError.write(Data("snapshot-bench: \(message)\n\(usage)\n".utf8))
            exit(2)
        }
        while i < arguments.count {
            let flag = arguments[i]
            if flag == "--help" || flag == "-h" { print(usage); exit(0) }
            guard i + 1 < arguments.count else { bad("\(flag) needs a value") }
            let text = arguments[i + 1]
            i += 2
            switch flag {
            case "--binary": options.binary = text
            case "--temp": options.tempParent = text
            default:
                guard let number = Int(text), number >= 0 else { bad("\(flag) needs a number") }
                switch flag {
                case "--writes": options.writes = number
                case "--concurrency": options.concurrency = max(1, number)
                case "--bench-users": options.benchUsers = max(1, number)
                case "--users": options.users = number
                case "--groups": options.groups = max(1, number)
                case "--files-per-group": options.filesPerGroup = number
                case "--pieces-per-file": options.piecesPerFile = max(1, number)
                case "--snapshot-entries": options.snapshotEntries = UInt64(max(1, number))
                case "--write-seconds": options.writeSeconds = max(1, number)
                case "--max-seconds": options.maxSeconds = max(10, number)
                case "--dd-mb": options.ddMegabytes = number
                default: bad("unknown argument \(flag)")
                }
            }
        }
        guard FileManager.default.isExecutableFile(atPath: options.binary) else { bad("no executable at \(options.binary)") }
        guard options.users >= options.groups + options.benchUsers else { bad("need users >= groups + bench users") }
        return options
    }
}

// MARK: - Clocks, output

func nowSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

func mib(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
func out(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
func note(_ text: String) { FileHandle.standardError.write(Data("[snapshot-bench] \(text)\n".utf8)) }

/// Figures, printed as JSON lines as they come and kept for the summary.
let figures = Mutex<[(name: String, value: Double, unit: String)]>([])

func emit(_ name: String, _ value: Double, _ unit: String, _ extra: [String: String] = [:]) {
    var object: [String: Any] = ["figure": name, "value": value, "unit": unit]
    for (key, text) in extra { object[key] = text }
    if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
       let line = String(data: data, encoding: .utf8) {
        out(line)
    }
    figures.withLock { $0.append((name, value, unit)) }
}

// MARK: - Cleanup of everything started

/// Children alive and the temporary folder, so that any exit path can clean them up.
let liveChildren = Mutex<Set<Int32>>([])
let temporaryRoot = Mutex<String?>(nil)

func cleanUpEverything() {
    let pids = liveChildren.withLock { pids in
        let all = pids
        pids.removeAll()
        return all
    }
    for pid in pids {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }
    if let root = temporaryRoot.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: root) }
}

func installCleanupOnSignals() -> [any DispatchSourceSignal] {
    [SIGINT, SIGTERM, SIGHUP].map { number in
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler {
            note("signal \(number): cleaning up")
            cleanUpEverything()
            exit(128 + number)
        }
        source.resume()
        return source
    }
}

/// Kills everything and exits when the whole run exceeds its time.
func startWatchdog(seconds: Int) {
    let thread = Thread {
        let deadline = nowSeconds() + Double(seconds)
        while nowSeconds() < deadline { usleep(500_000) } // sleep() returns early on signals
        note("the run exceeded --max-seconds \(seconds): cleaning up and exiting")
        cleanUpEverything()
        exit(3)
    }
    thread.start()
}

// MARK: - Data directories

struct DirectoryUsage {
    var total = 0, snapshotBytes = 0, snapshotCount = 0, temporaryBytes = 0, segmentBytes = 0, segmentCount = 0, otherBytes = 0
    var newestSnapshotBytes = 0
}

func usage(of path: String) -> DirectoryUsage {
    var result = DirectoryUsage()
    let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    var newest = ""
    for name in names {
        let size = (try? FileManager.default.attributesOfItem(atPath: path + "/" + name)[.size] as? NSNumber)?.intValue ?? 0
        result.total += size
        if name.hasSuffix(".snap") {
            result.snapshotBytes += size
            result.snapshotCount += 1
            if name > newest { newest = name; result.newestSnapshotBytes = size }
        } else if name.hasSuffix(".tmp") {
            result.temporaryBytes += size
        } else if name.hasSuffix(".seg") {
            result.segmentBytes += size
            result.segmentCount += 1
        } else {
            result.otherBytes += size
        }
    }
    return result
}

// MARK: - The cluster

/// Writes a fresh random cluster key (64 hex digits, mode 0600) beside the cluster.conf in
/// `directory`: tracker-node refuses to start without one.
func writeClusterKey(in directory: String) throws {
    var generator = SystemRandomNumberGenerator()
    let hex = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    guard FileManager.default.createFile(atPath: directory + "/cluster.key", contents: Data((hex + "\n").utf8),
                                         attributes: [.posixPermissions: 0o600]) else {
        throw CocoaError(.fileWriteUnknown)
    }
}

final class Cluster: @unchecked Sendable {
    // @unchecked: `processes` is behind a Mutex; everything else is immutable.
    let directory: String
    let ids: [NodeID] = [1, 2, 3]
    let binary: String
    let arguments: [String]
    let config: ClusterConfig
    private let processes = Mutex<[NodeID: Process]>([:])
    let statusClient: TrackerClient

    init(directory: String, binary: String, arguments: [String]) throws {
        self.directory = directory
        self.binary = binary
        self.arguments = arguments
        var lines: [String] = []
        for id in ids {
            let socket = try Socket.listen(host: "127.0.0.1", port: 0)
            // Pinned (what --print-fingerprint prints) unless the trackers run with --insecure.
            let pin = arguments.contains("--insecure") ? ""
                : " " + (try TLSIdentity.loadOrCreate(directory: directory + "/data-\(id)", commonName: "tracker-\(id)").fingerprint.description)
            lines.append("\(id) 127.0.0.1:\(try socket.localPort)" + pin)
            socket.close()
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: directory + "/cluster.conf", atomically: true, encoding: .utf8)
        try writeClusterKey(in: directory)
        config = try ClusterConfig.load(path: directory + "/cluster.conf")
        var timing = TrackerClient.Timing()
        timing.attemptTimeoutMillis = 1_000
        timing.connectTimeoutMillis = 300
        statusClient = try TrackerClient(cluster: config, timing: timing)
    }

    func dataDirectory(_ id: NodeID) -> String { directory + "/data-\(id)" }
    func logPath(_ id: NodeID) -> String { directory + "/tracker-\(id).log" }
    func log(_ id: NodeID) -> String { (try? String(contentsOfFile: logPath(id), encoding: .utf8)) ?? "" }

    func start(_ id: NodeID) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        // The bench users all log in from 127.0.0.1: lift the per-address password rate.
        process.arguments = ["--conf", directory + "/cluster.conf", "--id", "\(id)", "--data-dir", dataDirectory(id),
                             "--password-rate", "100000"] + arguments
        if !FileManager.default.fileExists(atPath: logPath(id)) { _ = FileManager.default.createFile(atPath: logPath(id), contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath(id)))
        log.seekToEndOfFile()
        process.standardError = log
        process.standardOutput = log
        process.standardInput = Pipe()
        try process.run()
        let pid = process.processIdentifier
        liveChildren.withLock { _ = $0.insert(pid) }
        processes.withLock { $0[id] = process }
    }

    /// SIGKILL, and wait for the process to be gone.
    func kill9(_ id: NodeID) {
        guard let process = processes.withLock({ $0.removeValue(forKey: id) }) else { return }
        let pid = process.processIdentifier
        kill(pid, SIGKILL)
        process.waitUntilExit()
        liveChildren.withLock { _ = $0.remove(pid) }
    }

    func tracker(_ id: NodeID) -> ClusterConfig.Tracker { config.trackers.first { $0.id == id }! }

    func status(_ id: NodeID) -> TrackerStatus? { try? statusClient.status(of: tracker(id)).get() }

    func statuses() -> [TrackerStatus] { ids.compactMap { status($0) } }

    /// The one leader of the highest term among the answering trackers, within `seconds`.
    func waitForLeader(seconds: Double, excluding: NodeID? = nil) -> TrackerStatus? {
        let deadline = nowSeconds() + seconds
        while nowSeconds() < deadline {
            let all = ids.filter { $0 != excluding }.compactMap { status($0) }
            let leaders = all.filter { $0.role == .leader }
            if leaders.count == 1, let leader = leaders.first, all.allSatisfy({ $0.term <= leader.term }) { return leader }
            usleep(20_000)
        }
        return nil
    }

    /// Waits until every tracker has applied the leader's commit index; returns the leader's status.
    func waitQuiescent(seconds: Double) -> TrackerStatus? {
        let deadline = nowSeconds() + seconds
        while nowSeconds() < deadline {
            let all = statuses()
            if all.count == ids.count, let leader = all.first(where: { $0.role == .leader }),
               all.allSatisfy({ $0.appliedIndex >= leader.commitIndex }) {
                return leader
            }
            usleep(100_000)
        }
        return nil
    }
}

// MARK: - Seeding

struct BenchUser: Sendable {
    var userID: String
    var password: String
}

/// The large state: `users` users (all but the bench users logged in with leases that do not run
/// out during the run, so the state keeps its sessions), `groups` groups with members spread
/// evenly, `filesPerGroup` files of `piecesPerFile` pieces uploaded by each group's owner.
/// Commands go in with client id 0, so the state holds no exactly-once cache of seed clients.
func seedMachine(_ options: Options, benchUsers: [BenchUser]) throws -> TrackerStateMachine {
    var machine = TrackerStateMachine()
    func run(_ command: TrackerCommand) {
        let result = machine.apply(CommandEnvelope(clientID: 0, sequence: 0, command: command))
        guard result.isOK else { fatalError("seeding: \(command) failed: \(result)") }
    }
    let farFuture: UInt64 = 1 << 60 // tracker clocks are milliseconds of CLOCK_MONOTONIC
    let plainUsers = options.users - benchUsers.count
    for user in 0..<plainUsers {
        let randomBytes = try SecureRandom.bytes(count: 48) // a random salt and a dummy hash
        let salt = Array(randomBytes[0..<16])
        let hash = Array(randomBytes[16..<48])
        run(.createUser(userID: "user\(user)", salt: salt, passwordHash: hash))
        run(.openSession(userID: "user\(user)", tokenHash: RandomWorkload.tokenHash(UInt64(user)),
                         peerAddress: "10.\(user / 65_536).\(user / 256 % 256).\(user % 256):6881", nowMillis: farFuture))
    }
    for bench in benchUsers {
        let salt = try PasswordHash.makeSalt()
        run(.createUser(userID: bench.userID, salt: salt, passwordHash: try PasswordHash.derive(password: bench.password, salt: salt)))
    }
    for group in 0..<options.groups {
        run(.createGroup(tokenHash: RandomWorkload.tokenHash(UInt64(group)), groupID: "group\(group)"))
    }
    for user in options.groups..<plainUsers {
        let group = user % options.groups
        run(.joinGroup(tokenHash: RandomWorkload.tokenHash(UInt64(user)), groupID: "group\(group)"))
        run(.acceptRequest(tokenHash: RandomWorkload.tokenHash(UInt64(group)), groupID: "group\(group)", userID: "user\(user)"))
    }
    for group in 0..<options.groups {
        for file in 0..<options.filesPerGroup {
            let metadata = RandomWorkload.metadata(name: "file\(file).bin", variant: group &* options.filesPerGroup &+ file,
                                                   pieceCount: options.piecesPerFile)
            run(.uploadFile(tokenHash: RandomWorkload.tokenHash(UInt64(group)), groupID: "group\(group)", metadata: metadata))
        }
    }
    return machine
}

/// Seeds the three data directories with the same snapshot at `index`, term 1, and a hard
/// state of term 1 that commits it. Returns the snapshot's size in bytes.
func seedDirectories(_ cluster: Cluster, _ options: Options, benchUsers: [BenchUser], index: UInt64) throws -> Int {
    let clock = ContinuousClock()
    var machine: TrackerStateMachine? = nil
    let built = try clock.measure { machine = try seedMachine(options, benchUsers: benchUsers) }
    let state = machine!.state
    note("seeded in-process: \(state.userCount) users, \(state.sessionCount) sessions, \(state.groupCount) groups, \(state.fileCount) files in \(built)")
    var data: [UInt8] = []
    let serialized = clock.measure { data = machine!.snapshot() }
    machine = nil
    emit("seed.snapshot_bytes", Double(data.count), "bytes")
    emit("seed.serialize_in_process", seconds(serialized) * 1_000, "ms")
    let snapshot = Snapshot(meta: SnapshotMeta(index: index, term: 1), data: data)
    for id in cluster.ids {
        let written = try clock.measure {
            let storage = try FileStorage(directory: cluster.dataDirectory(id))
            try storage.saveSnapshot(snapshot)
            try storage.save(hardState: HardState(term: 1, vote: 0, commit: index), entries: [], mustSync: true)
        }
        note("seeded \(cluster.dataDirectory(id)) in \(written)")
    }
    return data.count
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

// MARK: - Disk speed

func measureDisk(directory: String, megabytes: Int) {
    guard megabytes > 0 else { return }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/dd")
    let path = directory + "/dd.bin"
    process.arguments = ["if=/dev/zero", "of=\(path)", "bs=1M", "count=\(megabytes)", "conv=fdatasync"]
    let pipe = Pipe()
    process.standardError = pipe
    process.standardOutput = FileHandle.nullDevice
    let start = nowSeconds()
    do { try process.run() } catch { note("dd did not start: \(error)"); return }
    liveChildren.withLock { _ = $0.insert(process.processIdentifier) }
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    liveChildren.withLock { _ = $0.remove(process.processIdentifier) }
    let elapsed = nowSeconds() - start
    try? FileManager.default.removeItem(atPath: path)
    emit("disk.dd_fdatasync", Double(megabytes) * 1_048_576 / elapsed / 1e6, "MB/s",
         ["dd": output.split(separator: "\n").last.map(String.init) ?? ""])
}

// MARK: - Logs

/// `key=value` fields of the lines of `log` containing `message`.
func logFields(_ log: String, _ message: String) -> [[String: String]] {
    log.split(separator: "\n").filter { $0.contains(" \(message) ") || $0.hasSuffix(" \(message)") }.map { line in
        var fields: [String: String] = [:]
        for part in line.split(separator: " ") {
            guard let equals = part.firstIndex(of: "=") else { continue }
            fields[String(part[..<equals])] = String(part[part.index(after: equals)...])
        }
        return fields
    }
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))]
}

// MARK: - The writes

struct WriteOutcome {
    var done = 0, failed = 0, elapsed = 0.0, latencies: [Double] = [], firstError = ""
}

func runWrites(_ cluster: Cluster, _ options: Options, tokens: [[UInt8]]) -> WriteOutcome {
    let claimed = Atomic<Int>(0)
    let completed = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    let firstError = Mutex<String>("")
    let latencies = Mutex<[Double]>([])
    let peaks = Mutex<[NodeID: DirectoryUsage]>([:])
    let finished = Atomic<Bool>(false)
    let start = nowSeconds()
    let deadline = start + Double(options.writeSeconds)
    let group = DispatchGroup()
    for worker in 0..<options.concurrency {
        group.enter()
        let thread = Thread {
            defer { group.leave() }
            var timing = TrackerClient.Timing()
            timing.callDeadlineMillis = 30_000
            guard let client = try? TrackerClient(cluster: cluster.config, timing: timing) else {
                failed.add(1, ordering: .relaxed)
                return
            }
            let token = tokens[worker % tokens.count]
            var own: [Double] = []
            own.reserveCapacity(options.writes / options.concurrency + 16)
            while nowSeconds() < deadline, claimed.add(1, ordering: .relaxed).newValue <= options.writes {
                let sent = nowSeconds()
                let answer = try? client.call(.command(.keepAlive), token: token)
                own.append(nowSeconds() - sent)
                if case let .result(result)? = answer, result.isOK {
                    completed.add(1, ordering: .relaxed)
                } else {
                    failed.add(1, ordering: .relaxed)
                    firstError.withLock { if $0.isEmpty { $0 = "\(String(describing: answer))" } }
                }
            }
            client.close()
            latencies.withLock { $0.append(contentsOf: own) }
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    let monitor = Thread {
        var lastPrint = nowSeconds()
        var lastCount = 0
        while !finished.load(ordering: .relaxed) {
            for id in cluster.ids {
                let now = usage(of: cluster.dataDirectory(id))
                peaks.withLock { all in
                    var peak = all[id] ?? DirectoryUsage()
                    peak.total = max(peak.total, now.total)
                    peak.snapshotBytes = max(peak.snapshotBytes, now.snapshotBytes + now.temporaryBytes)
                    peak.segmentBytes = max(peak.segmentBytes, now.segmentBytes)
                    peak.segmentCount = max(peak.segmentCount, now.segmentCount)
                    peak.snapshotCount = max(peak.snapshotCount, now.snapshotCount + (now.temporaryBytes > 0 ? 1 : 0))
                    all[id] = peak
                }
            }
            if nowSeconds() - lastPrint >= 10 {
                let count = completed.load(ordering: .relaxed)
                note(String(format: "writes: %d done, %d failed, %.0f/s over the last %.0f s", count, failed.load(ordering: .relaxed),
                            Double(count - lastCount) / (nowSeconds() - lastPrint), nowSeconds() - lastPrint))
                lastPrint = nowSeconds()
                lastCount = count
            }
            usleep(250_000)
        }
    }
    monitor.start()
    group.wait()
    let elapsed = nowSeconds() - start
    finished.store(true, ordering: .relaxed)
    usleep(300_000)
    for id in cluster.ids {
        guard let peak = peaks.withLock({ $0[id] }) else { continue }
        emit("tracker\(id).peak_during_writes.total", Double(peak.total), "bytes",
             ["snapshot_bytes_peak": "\(peak.snapshotBytes)", "segment_bytes_peak": "\(peak.segmentBytes)",
              "segments_peak": "\(peak.segmentCount)", "snapshot_files_peak": "\(peak.snapshotCount)", "sampled_every": "250 ms"])
    }
    return WriteOutcome(done: completed.load(ordering: .relaxed), failed: failed.load(ordering: .relaxed), elapsed: elapsed,
                        latencies: latencies.withLock { $0 }.sorted(), firstError: firstError.withLock { $0 })
}

// MARK: - Restarts

/// Polls `id` every 10 ms from now: the time of its first status answer and the time it has
/// applied `target`, both from `since`.
func timeUntilApplied(_ cluster: Cluster, _ id: NodeID, target: UInt64, since: Double, seconds: Double) -> (firstAnswer: Double?, applied: Double?) {
    var firstAnswer: Double? = nil
    let deadline = nowSeconds() + seconds
    while nowSeconds() < deadline {
        if let status = cluster.status(id) {
            if firstAnswer == nil { firstAnswer = nowSeconds() - since }
            if status.appliedIndex >= target { return (firstAnswer, nowSeconds() - since) }
        }
        usleep(10_000)
    }
    return (firstAnswer, nil)
}

func restartFigures(_ cluster: Cluster, _ name: String, _ id: NodeID, target: UInt64) {
    let logBefore = cluster.log(id).count
    let killedAt = nowSeconds()
    cluster.kill9(id)
    let startedAt = nowSeconds()
    do { try cluster.start(id) } catch { note("restart of \(id) failed: \(error)"); return }
    let times = timeUntilApplied(cluster, id, target: target, since: startedAt, seconds: 120)
    let starting = logFields(String(cluster.log(id).dropFirst(logBefore)), "tracker starting").last ?? [:]
    let extra = ["tracker": "\(id)", "target_index": "\(target)", "snapshot_index": starting["snapshot.index"] ?? "?",
                 "log_entries_loaded": starting["log.entries"] ?? "?", "kill_to_start_ms": String(format: "%.0f", (startedAt - killedAt) * 1_000)]
    emit("restart.\(name).first_status_answer", (times.firstAnswer ?? .nan) * 1_000, "ms", extra)
    emit("restart.\(name).applied_commit_at_kill", (times.applied ?? .nan) * 1_000, "ms", extra)
}

// MARK: - Main

func main(_ options: Options) throws {
    let root = options.tempParent + "/snapshot-bench-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    temporaryRoot.withLock { $0 = root }
    defer { cleanUpEverything() }
    note("working in \(root); tracker-node \(options.binary); --snapshot-entries \(options.snapshotEntries)")

    measureDisk(directory: root, megabytes: options.ddMegabytes)

    let cluster = try Cluster(directory: root, binary: options.binary,
                              arguments: ["--snapshot-entries", "\(options.snapshotEntries)"])
    var succeeded = false
    defer {
        if !succeeded {
            for id in cluster.ids {
                note("tail of tracker \(id)'s log:\n" + cluster.log(id).split(separator: "\n").suffix(15).joined(separator: "\n"))
            }
        }
    }
    let benchUsers = (0..<options.benchUsers).map { BenchUser(userID: "bench\($0)", password: "bench-password-\($0)") }
    let seedIndex: UInt64 = 1
    let snapshotBytes = try seedDirectories(cluster, options, benchUsers: benchUsers, index: seedIndex)

    // Start from the seeded directories.
    let started = nowSeconds()
    for id in cluster.ids { try cluster.start(id) }
    guard let leader0 = cluster.waitForLeader(seconds: 120) else { throw BenchError("no leader within 120 s of starting") }
    emit("cold_start.leader_elected", (nowSeconds() - started) * 1_000, "ms", ["leader": "\(leader0.id)"])

    // Log the bench users in and check the state is served.
    var timing = TrackerClient.Timing()
    timing.callDeadlineMillis = 60_000
    let client = try TrackerClient(cluster: cluster.config, timing: timing)
    var tokens: [[UInt8]] = []
    for user in benchUsers {
        let answer = try client.call(.login(userID: user.userID, password: user.password, peerAddress: "127.0.0.1:6881"))
        guard case let .loggedIn(token, _) = answer else { throw BenchError("login of \(user.userID): \(answer)") }
        tokens.append(token)
    }
    let (groups, _) = try Page<GroupSummary>.collect(upTo: options.groups + 1) { page in
        let listed = try client.call(.query(.listGroups(page: page)), token: tokens[0])
        guard case let .result(.ok(.groups(listedPage))) = listed else {
            throw BenchError("list_groups through a bench user failed: \(String(describing: listed).prefix(200))")
        }
        return listedPage
    }
    guard groups.count == options.groups else {
        throw BenchError("list_groups through a bench user returned \(groups.count) groups, not \(options.groups)")
    }
    note("served state verified: \(benchUsers.count) bench users logged in, list_groups returns \(groups.count) groups")

    // The writes.
    let before = cluster.statuses().first { $0.role == .leader }?.commitIndex ?? 0
    note("writing: \(options.writes) keepalives at concurrency \(options.concurrency) over \(tokens.count) sessions")
    let outcome = runWrites(cluster, options, tokens: tokens)
    emit("writes.committed", Double(outcome.done), "writes", ["failed": "\(outcome.failed)", "requested": "\(options.writes)",
                                                              "concurrency": "\(options.concurrency)", "first_error": outcome.firstError])
    emit("writes.elapsed", outcome.elapsed, "s")
    emit("writes.rate", Double(outcome.done) / outcome.elapsed, "writes/s")
    emit("writes.latency_p50", percentile(outcome.latencies, 0.5) * 1_000, "ms")
    emit("writes.latency_p99", percentile(outcome.latencies, 0.99) * 1_000, "ms")
    emit("writes.latency_max", (outcome.latencies.last ?? 0) * 1_000, "ms")
    guard let quiet = cluster.waitQuiescent(seconds: 120) else { throw BenchError("trackers did not all apply the leader's commit within 120 s") }
    emit("writes.log_entries_added", Double(quiet.commitIndex - before), "entries", ["commit_index": "\(quiet.commitIndex)"])

    // What the trackers logged about snapshots.
    for id in cluster.ids {
        let taken = logFields(cluster.log(id), "snapshot taken")
        let serialize = taken.compactMap { Double($0["serialize.ms"] ?? "") }.sorted()
        let write = taken.compactMap { Double($0["write.ms"] ?? "") }.sorted()
        let bytes = taken.compactMap { Double($0["snapshot.bytes"] ?? "") }
        emit("tracker\(id).snapshots_taken", Double(taken.count), "snapshots",
             ["serialize_ms_p50": "\(percentile(serialize, 0.5))", "serialize_ms_max": "\(serialize.last ?? 0)",
              "write_ms_p50": "\(percentile(write, 0.5))", "write_ms_max": "\(write.last ?? 0)",
              "bytes_last": "\(Int(bytes.last ?? 0))"])
        emit("tracker\(id).snapshot_serialize_p50", percentile(serialize, 0.5), "ms")
        emit("tracker\(id).snapshot_write_p50", percentile(write, 0.5), "ms")
    }

    // (a) Data directories after the writes.
    var newestSnapshot = snapshotBytes
    for id in cluster.ids {
        let now = usage(of: cluster.dataDirectory(id))
        newestSnapshot = max(newestSnapshot, now.newestSnapshotBytes)
        emit("tracker\(id).data_dir.total", Double(now.total), "bytes",
             ["snapshot_files": "\(now.snapshotCount)", "snapshot_bytes": "\(now.snapshotBytes)", "tmp_bytes": "\(now.temporaryBytes)",
              "segments": "\(now.segmentCount)", "segment_bytes": "\(now.segmentBytes)", "other_bytes": "\(now.otherBytes)",
              "newest_snapshot_file_bytes": "\(now.newestSnapshotBytes)"])
        emit("tracker\(id).data_dir.snapshots", Double(now.snapshotBytes), "bytes")
        emit("tracker\(id).data_dir.segments", Double(now.segmentBytes), "bytes")
        emit("tracker\(id).data_dir.total_over_snapshot", Double(now.total) / Double(max(1, now.newestSnapshotBytes)), "x")
    }
    emit("snapshot.file_bytes", Double(newestSnapshot), "bytes")

    // (b) Restarts: a follower, then the leader.
    let follower = cluster.ids.first { $0 != quiet.id }!
    restartFigures(cluster, "follower", follower, target: quiet.commitIndex)
    guard let quiet2 = cluster.waitQuiescent(seconds: 120) else { throw BenchError("not quiescent after the follower restart") }
    let oldLeader = quiet2.id
    let electionStart = nowSeconds()
    let electionWatch = Thread {
        if let leader = cluster.waitForLeader(seconds: 60, excluding: oldLeader) {
            emit("restart.leader.new_leader_elected", (nowSeconds() - electionStart) * 1_000, "ms", ["new_leader": "\(leader.id)"])
        }
    }
    electionWatch.start()
    restartFigures(cluster, "leader", oldLeader, target: quiet2.commitIndex)
    usleep(500_000)

    // (c) A wiped follower catches up.
    guard let quiet3 = cluster.waitQuiescent(seconds: 120) else { throw BenchError("not quiescent after the leader restart") }
    let wiped = cluster.ids.first { $0 != quiet3.id }!
    let leaderLogBefore = cluster.log(quiet3.id).count
    let wipedLogBefore = cluster.log(wiped).count
    cluster.kill9(wiped)
    // Its state goes, its pinned identity stays (a replaced disk restored from the key backup).
    let identityFiles = [TLSIdentity.keyFileName, TLSIdentity.certificateFileName]
    let identity = identityFiles.map { FileManager.default.contents(atPath: cluster.dataDirectory(wiped) + "/" + $0) }
    try FileManager.default.removeItem(atPath: cluster.dataDirectory(wiped))
    try FileManager.default.createDirectory(atPath: cluster.dataDirectory(wiped), withIntermediateDirectories: true,
                                            attributes: [.posixPermissions: 0o700])
    for (name, contents) in zip(identityFiles, identity) {
        if let contents {
            _ = FileManager.default.createFile(atPath: cluster.dataDirectory(wiped) + "/" + name, contents: contents,
                                               attributes: [.posixPermissions: 0o600])
        }
    }
    let startedWiped = nowSeconds()
    try cluster.start(wiped)
    // An empty data directory is a new identity: the cluster refuses it as its old self until
    // it is removed and added back as a learner (README, Changing the cluster).
    for words in [["remove", "--id", "\(wiped)"], ["add", "--id", "\(wiped)", "--address", cluster.config.address(of: wiped)!.description]] {
        let tool = Process()
        tool.executableURL = URL(fileURLWithPath: cluster.binary)
        tool.arguments = ["member"] + words + ["--conf", cluster.directory + "/cluster.conf"]
        tool.standardOutput = FileHandle.nullDevice
        try tool.run()
        tool.waitUntilExit()
        guard tool.terminationStatus == 0 else { throw BenchError("member \(words[0]) \(wiped) failed") }
    }
    let times = timeUntilApplied(cluster, wiped, target: quiet3.commitIndex, since: startedWiped, seconds: 300)
    usleep(200_000)
    let sent = logFields(String(cluster.log(quiet3.id).dropFirst(leaderLogBefore)), "snapshot sent").last ?? [:]
    let installed = logFields(String(cluster.log(wiped).dropFirst(wipedLogBefore)), "snapshot installed from leader").last ?? [:]
    let transferred = Double(sent["snapshot.bytes"] ?? installed["snapshot.bytes"] ?? "") ?? Double(newestSnapshot)
    let extra = ["tracker": "\(wiped)", "leader": "\(quiet3.id)", "target_index": "\(quiet3.commitIndex)",
                 "leader_log_snapshot_sent": sent.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " "),
                 "installed_snapshot_bytes": installed["snapshot.bytes"] ?? "none logged"]
    emit("wiped.first_status_answer", (times.firstAnswer ?? .nan) * 1_000, "ms", extra)
    emit("wiped.caught_up", (times.applied ?? .nan) * 1_000, "ms", extra)
    if let applied = times.applied {
        emit("wiped.catch_up_rate", transferred / applied / 1e6, "MB/s", ["bytes": "\(Int(transferred))"])
    }
    if let duration = Double(sent["duration.ms"] ?? ""), duration > 0 {
        emit("wiped.leader_send_rate", transferred / (duration / 1_000) / 1e6, "MB/s", ["send_ms": "\(Int(duration))"])
    }
    let wipedUsage = usage(of: cluster.dataDirectory(wiped))
    emit("wiped.data_dir.total", Double(wipedUsage.total), "bytes")

    succeeded = true

    // Summary.
    out("\nsnapshot-bench summary (\(outcome.done) committed keepalive writes at concurrency \(options.concurrency), --snapshot-entries \(options.snapshotEntries); 2 shared cores: noisy)")
    for figure in figures.withLock({ $0 }) {
        let shown: String
        switch figure.unit {
        case "bytes": shown = mib(Int(figure.value))
        case "ms": shown = String(format: "%.0f ms", figure.value)
        default: shown = String(format: "%.2f ", figure.value) + figure.unit
        }
        out("  \(figure.name.padding(toLength: 46, withPad: " ", startingAt: 0)) \(shown)")
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

let options = Options.parse(Array(CommandLine.arguments.dropFirst()))
let signalSources = installCleanupOnSignals()
startWatchdog(seconds: options.maxSeconds)
do {
    try main(options)
} catch {
    note("failed: \(error)")
    cleanUpEverything()
    exit(1)
}
withExtendedLifetime(signalSources) {}
exit(0)
