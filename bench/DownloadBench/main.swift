import Foundation
import Hashing
import Networking
import PeerTransfer

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
var settings: [String: String] = ["--runs": "3", "--scenarios": "A B", "--security": "tls"]
var argIndex = 1
while argIndex + 1 < CommandLine.arguments.count {
    settings[CommandLine.arguments[argIndex]] = CommandLine.arguments[argIndex + 1]
    argIndex += 2
}
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

/// The whole benchmark in one security mode ("tls" or "insecure"); every process it starts is
/// in `children`, killed by the caller.
func bench(_ children: inout [Child], security: String) throws {
    try? FileManager.default.removeItem(atPath: work)
    try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    let isInsecure = security == "insecure"
    let flags = isInsecure ? ["--insecure"] : []
    var conf = ""
    for id in 1...3 {
        let pin = isInsecure ? "" : " " + (try TLSIdentity.loadOrCreate(directory: work + "/tracker-\(id)", commonName: "tracker-\(id)").fingerprint.description)
        conf += "\(id) 127.0.0.1:\(try freePort())\(pin)\n"
    }
    try conf.write(toFile: work + "/cluster.conf", atomically: true, encoding: .utf8)
    try writeClusterKey(in: work)
    for id in 1...3 {
        children.append(try Child(binDir + "/tracker-node", ["--conf", work + "/cluster.conf", "--id", "\(id)",
                                                             "--data-dir", work + "/tracker-\(id)"] + flags, log: work + "/tracker-\(id).log"))
    }
    usleep(1_500_000)
    say("# security=\(security)")
    func client(_ name: String) throws -> Child {
        let child = try Child(binDir + "/client", ["127.0.0.1:\(try freePort())", work + "/cluster.conf", "--json",
                                                   "--state-dir", work + "/state-\(name)"] + flags, log: work + "/client-\(name).log")
        children.append(child)
        try child.must("create_user \(name) pw")
        try child.must("login \(name) pw")
        return child
    }
    let owner = try client("s1")
    try owner.must("create_group bench")
    func member(_ name: String) throws -> Child {
        let child = try client(name)
        try child.must("join_group bench")
        try owner.must("accept_request bench \(name)")
        return child
    }
    let fileName = URL(fileURLWithPath: file).lastPathComponent
    let fileBytes = FileFacts.of(file)?.sizeBytes ?? 0
    let t0 = nowSeconds()
    let upload = owner.run("upload_file \(file) bench")
    guard let expected = upload["sha1"] as? String else { throw BenchError("upload: \(upload)") }
    say(String(format: "# upload_file (hash %llu bytes, two cores) took %.2f s", fileBytes, nowSeconds() - t0))
    let sharers = [owner, try member("s2"), try member("s3")]
    let downloaders = try (1...4).map { try member("d\($0)") }

    /// Starts downloads on `clients` together and returns each one's seconds to completion.
    func download(_ clients: [Child], run: Int) throws -> [Double] {
        var dirs: [String] = []
        for (i, _) in clients.enumerated() {
            let dir = work + "/dl-\(run)-\(i)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            dirs.append(dir)
        }
        let start = nowSeconds()
        for (i, c) in clients.enumerated() { try c.must("download_file bench \(fileName) \(dirs[i])") }
        var finished = [Double?](repeating: nil, count: clients.count)
        while finished.contains(where: { $0 == nil }) && nowSeconds() - start < 1_800 {
            for (i, c) in clients.enumerated() where finished[i] == nil {
                let answer = c.run("show_downloads")
                guard answer["ok"] as? Bool == true else { throw BenchError("show_downloads on downloader \(i + 1): \(answer)") }
                let entries = answer["downloads"] as? [[String: Any]] ?? []
                let state = entries.last?["state"] as? String
                if state == "complete" { finished[i] = nowSeconds() - start }
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

    for scenario in scenarios {
        for r in 1...runs {
            if scenario == "L" {
                // One sharer, one downloader: a large (e.g. sparse) file end to end.
                let cpu0 = cpuSeconds(downloaders[0])
                let t = try download([downloaders[0]], run: r)[0]
                let megabytes = Double(fileBytes) / 1e6
                say(String(format: "ours L run=%d bytes=%llu seconds=%.3f MB/s=%.0f downloader_cpu_s=%.2f sha1=ok", r, fileBytes, t,
                           megabytes / t, cpuSeconds(downloaders[0]) - cpu0))
            } else if scenario == "A" {
                for s in sharers.dropFirst() { try s.must("upload_file \(file) bench") }
                let ends = sharers + [downloaders[0]]
                let cpu0 = ends.map(cpuSeconds)
                let t = try download([downloaders[0]], run: r)[0]
                let cpu = zip(ends.map(cpuSeconds), cpu0).map { $0 - $1 }
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

/// CPU seconds (user + system) a child has used so far, from /proc.
func cpuSeconds(_ child: Child) -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(child.process.processIdentifier)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return 0 }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

let securities = settings["--security"] == "both" ? ["insecure", "tls"] : [settings["--security"]!]
guard securities.allSatisfy({ $0 == "tls" || $0 == "insecure" }) else {
    print(usage)
    exit(2)
}
for security in securities {
    var children: [Child] = []
    do {
        try bench(&children, security: security)
        say("# CPU seconds per process (3 trackers, sharers s1-s3, downloaders d1-d4): "
            + children.map { String(format: "%.2f", cpuSeconds($0)) }.joined(separator: " "))
        for child in children { child.kill() }
    } catch {
        say("download-bench failed: \(error)")
        for child in children { child.kill() }
        exit(1)
    }
}

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
