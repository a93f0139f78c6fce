// snapshot-bench: snapshots and log compaction of a real 3-tracker cluster holding a large state.
//
// It seeds the state in-process (100,000 users, 10,000 groups, 100,000 files of 64 MiB: creating
// the users over the network would cost an hour of PBKDF2 on the leader), writes it as the
// snapshot of three data directories, starts three tracker-node processes on 127.0.0.1 from them,
// makes N committed writes (keepalives of logged-in bench users) at concurrency C, then measures:
// each data directory's size, restart time (kill -9 of a follower, then of the leader), and the
// catch-up time of a wiped tracker. One JSON line per figure on stdout, then a human summary.
// Every process it starts is killed, and its temporary folder removed, whatever happens.
import Foundation
import ProcessHarness
import Synchronization
import SystemClock

// MARK: - Main

func main(_ options: Options) throws {
    let root = try makeTemporaryDirectory(prefix: "snapshot-bench", parent: options.tempParent)
    defer { Children.shared.killAll() }
    note("working in \(root); tracker-node \(options.binary); --snapshot-entries \(options.snapshotEntries)")

    measureDisk(directory: root, megabytes: options.ddMegabytes)

    let cluster = try Cluster(parent: root, binary: options.binary, arguments: ["--snapshot-entries", "\(options.snapshotEntries)"])
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
    let started = SystemClock.monotonicSeconds()
    for id in cluster.ids { try cluster.start(id) }
    guard let leader0 = cluster.waitForLeader(seconds: 120) else { throw BenchError("no leader within 120 s of starting") }
    emit("cold_start.leader_elected", (SystemClock.monotonicSeconds() - started) * 1_000, "ms", ["leader": "\(leader0.id)"])

    let tokens = try logInBenchUsers(cluster, options, benchUsers)
    let (outcome, quiet) = try writeFigures(cluster, options, tokens: tokens)
    snapshotLogFigures(cluster)
    let newestSnapshot = dataDirectoryFigures(cluster, seededSnapshotBytes: snapshotBytes)
    try restartFigures(cluster, quiet: quiet)
    try wipedFollowerFigures(cluster, newestSnapshot: newestSnapshot)
    succeeded = true
    printSummary(outcome, options)
}

let options = Options.parse(Array(CommandLine.arguments.dropFirst())).resolve(command: "snapshot-bench", usage: Options.usage)
Children.shared.installSignalCleanup { note($0) }
startWatchdog(seconds: options.maxSeconds)
do {
    try main(options)
} catch {
    note("failed: \(error)")
    Children.shared.killAll()
    exit(1)
}
exit(0)
