import CommandLineFlags
import Foundation
import Hashing
import Networking
import PeerTransfer
import ProcessHarness
import SystemClock

// download-bench: our client on loopback against a 3-tracker cluster, 512 KiB pieces.
//   (A) three sharers, one downloader; (B) one sharer, four downloaders started together.
// Time = from sending download_file until show_downloads reports the file complete: every piece
// SHA-1-checked, the whole file's SHA-1 checked, the file fsynced and renamed into place.
// usage: download-bench --bin DIR --file PATH --work DIR [--runs N] [--scenarios "A B"]
//   (L) one sharer, one downloader (for a large file: bench/large_file.sh)
//        download-bench --scheduler PIECES   (the piece scheduler alone, in process)
//   --security tls (default: pinned TLS between trackers, clients and peers), insecure
//   (plaintext, --insecure everywhere) or both (plaintext first, then TLS, in one run).
let usage = "usage: download-bench --bin DIR --file PATH --work DIR [--runs N] [--scenarios \"A B\"] [--security tls|insecure|both] | --scheduler PIECES"
ignoreSIGPIPE()
var flags = FlagParser<[String: String]>()
for name in ["--bin", "--file", "--work", "--runs", "--scenarios", "--scheduler", "--security"] {
    flags.value(name, need: "needs a value") { settings, v in settings[name] = v; return true }
}
let settings = flags.parse(Array(CommandLine.arguments.dropFirst()), into: ["--runs": "3", "--scenarios": "A B"])
    .resolve(command: "download-bench", usage: usage)
if let text = settings["--scheduler"] {
    guard let pieces = Int(text), pieces >= 1, pieces <= TransferLimits.piecesPerFileMax else {
        print("--scheduler needs a piece count from 1 to \(TransferLimits.piecesPerFileMax)")
        exit(2)
    }
    SchedulerBench.main(pieceCount: pieces)
    exit(0)
}
guard let binDir = settings["--bin"], let file = settings["--file"], let work = settings["--work"],
      let runs = Int(settings["--runs"]!) else {
    print(usage)
    exit(2)
}
let scenarios = settings["--scenarios"]!.split(separator: " ").map(String.init)

/// Prints a line at once (standard output may be a pipe).
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

/// What the benchmark started: the tracker cluster and the clients, all killed at the end.
final class Started {
    var cluster: TrackerCluster?
    var clients: [ClientProcess] = []

    /// Process ids: the trackers, then the clients in start order.
    var pids: [Int32] { (cluster.map { c in c.ids.compactMap { c.pid($0) } } ?? []) + clients.map(\.pid) }

    func stopAll() {
        for client in clients { client.stop() }
        _ = cluster?.stop(keepDirectory: true) // the work folder stays for reading logs
    }
}

/// The whole benchmark in one security mode ("tls" or "insecure"); every process it starts is
/// in `started`, killed by the caller.
func bench(_ started: Started, security: String) throws {
    try? FileManager.default.removeItem(atPath: work)
    try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    let isInsecure = security == "insecure"
    let cluster = try TrackerCluster(binary: binDir + "/tracker-node", isInsecure: isInsecure, parent: work, prefix: "trackers",
                                     diesWithParent: true)
    started.cluster = cluster
    try cluster.startAll()
    guard try cluster.waitForLeader(timeoutMillis: 20_000) != nil else { throw HarnessError("no tracker leader within 20 s") }
    say("# security=\(security)")
    func client(_ name: String) throws -> ClientProcess {
        let child = try ClientProcess(confPath: cluster.confPath, folder: work, name: name, extraArguments: isInsecure ? ["--insecure"] : [],
                                      binary: binDir + "/client", diesWithParent: true, answerTimeoutMillis: 120_000)
        started.clients.append(child)
        try child.must("create_user \(name) pw")
        try child.must("login \(name) pw")
        return child
    }
    let owner = try client("s1")
    try owner.must("create_group bench")
    func member(_ name: String) throws -> ClientProcess {
        let child = try client(name)
        try child.must("join_group bench")
        try owner.must("accept_request bench \(name)")
        return child
    }
    let fileName = URL(fileURLWithPath: file).lastPathComponent
    let fileBytes = FileFacts.of(file)?.sizeBytes ?? 0
    let t0 = SystemClock.monotonicSeconds()
    let upload = owner.run("upload_file \(file) bench")
    guard let expected = upload["sha1"] as? String else { throw BenchError("upload: \(upload)") }
    say(String(format: "# upload_file (hash %llu bytes, two cores) took %.2f s", fileBytes, SystemClock.monotonicSeconds() - t0))
    let sharers = [owner, try member("s2"), try member("s3")]
    let downloaders = try (1...4).map { try member("d\($0)") }

    try runScenarios(sharers: sharers, downloaders: downloaders, fileName: fileName, fileBytes: fileBytes, expected: expected,
                     security: security)
}

/// Each scenario of `--scenarios`, `--runs` times, one line of figures per run.
func runScenarios(sharers: [ClientProcess], downloaders: [ClientProcess], fileName: String, fileBytes: UInt64, expected: String,
                  security: String) throws {
    func download(_ clients: [ClientProcess], run: Int) throws -> [Double] {
        try timedDownloads(clients, run: run, fileName: fileName, expected: expected)
    }
    for scenario in scenarios {
        for r in 1...runs {
            if scenario == "L" {
                // One sharer, one downloader: a large (e.g. sparse) file end to end.
                let cpu0 = cpuSeconds(downloaders[0].pid)
                let t = try download([downloaders[0]], run: r)[0]
                let megabytes = Double(fileBytes) / 1e6
                say(String(format: "ours L run=%d bytes=%llu seconds=%.3f MB/s=%.0f downloader_cpu_s=%.2f sha1=ok", r, fileBytes, t,
                           megabytes / t, cpuSeconds(downloaders[0].pid) - cpu0))
            } else if scenario == "A" {
                for s in sharers.dropFirst() { try s.must("upload_file \(file) bench") }
                let ends = sharers + [downloaders[0]]
                let cpu0 = ends.map { cpuSeconds($0.pid) }
                let t = try download([downloaders[0]], run: r)[0]
                let cpu = zip(ends.map { cpuSeconds($0.pid) }, cpu0).map { $0 - $1 }
                let gib = Double(fileBytes) / Double(1 << 30)
                say(String(format: "ours A security=%@ run=%d seconds=%.3f MB/s=%.0f cpu_s_per_GiB downloader=%.2f sharers=%.2f sha1=ok",
                           security, r, t, Double(fileBytes) / 1e6 / t, cpu[3] / gib, (cpu[0] + cpu[1] + cpu[2]) / gib))
                for s in sharers.dropFirst() { _ = s.run("stop_share bench \(fileName)") }
            } else {
                let times = try download(downloaders, run: r)
                let per = times.map { String(format: "%.3f", $0) }.joined(separator: " ")
                say(String(format: "ours B run=%d all_seconds=%.3f per_downloader=[%@] sha1=ok", r, times.max() ?? .infinity, per))
            }
        }
    }
}

/// Starts downloads on `clients` together and returns each one's seconds to completion.
func timedDownloads(_ clients: [ClientProcess], run: Int, fileName: String, expected: String) throws -> [Double] {
    var dirs: [String] = []
    for (i, _) in clients.enumerated() {
        let dir = work + "/dl-\(run)-\(i)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        dirs.append(dir)
    }
    let start = SystemClock.monotonicSeconds()
    for (i, c) in clients.enumerated() { try c.must("download_file bench \(fileName) \(dirs[i])") }
    var finished = [Double?](repeating: nil, count: clients.count)
    while finished.contains(where: { $0 == nil }) && SystemClock.monotonicSeconds() - start < 1_800 {
        for (i, c) in clients.enumerated() where finished[i] == nil {
            let answer = c.run("show_downloads")
            guard answer["ok"] as? Bool == true else { throw BenchError("show_downloads on downloader \(i + 1): \(answer)") }
            let entries = answer["downloads"] as? [[String: Any]] ?? []
            let state = entries.last?["state"] as? String
            if state == "complete" { finished[i] = SystemClock.monotonicSeconds() - start }
            if state == "failed" { throw BenchError("download failed: \(entries.last ?? [:])") }
        }
        usleep(10_000)
    }
    for (i, dir) in dirs.enumerated() {
        let path = dir + "/" + fileName
        let digests = try FileHashing.digests(ofFileAt: path)
        guard Hex.encode(digests.fileHash) == expected else { throw BenchError("SHA-1 mismatch in \(path)") }
        try FileManager.default.removeItem(atPath: dir)
        _ = clients[i].run("stop_share bench \(fileName)")
    }
    return finished.map { $0 ?? .infinity }
}


/// CPU seconds (user + system) a process has used so far, from /proc.
func cpuSeconds(_ pid: Int32) -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return 0 }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

let securities = settings["--security"] == "both" ? ["insecure", "tls"] : [settings["--security"] ?? "tls"]
guard securities.allSatisfy({ $0 == "tls" || $0 == "insecure" }) else {
    print(usage)
    exit(2)
}
for security in securities {
    let started = Started()
    do {
        try bench(started, security: security)
        say("# CPU seconds per process (3 trackers, sharers s1-s3, downloaders d1-d4): "
            + started.pids.map { String(format: "%.2f", cpuSeconds($0)) }.joined(separator: " "))
        started.stopAll()
    } catch {
        say("download-bench failed: \(error)")
        started.stopAll()
        exit(1)
    }
}
