import Foundation
import SystemClock
import TrackerClient
import TrackerProtocol
import TrackerStateMachine

/// Logs the bench users in and checks the state is served; their session tokens.
func logInBenchUsers(_ cluster: Cluster, _ options: Options, _ benchUsers: [BenchUser]) throws -> [[UInt8]] {
    // Log the bench users in and check the state is served.
    var timing = TrackerClient.Timing()
    timing.callDeadlineMillis = 60_000
    let client = try TrackerClient(cluster: cluster.config, timing: timing, identity: benchIdentity)
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
    return tokens
}

/// The committed writes and their figures; the leader's status once every tracker applied them.
func writeFigures(_ cluster: Cluster, _ options: Options, tokens: [[UInt8]]) throws -> (WriteOutcome, TrackerStatus) {
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
    return (outcome, quiet)
}

/// What the trackers logged about the snapshots they took.
func snapshotLogFigures(_ cluster: Cluster) {
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
}

/// (a) Data directories after the writes; the newest snapshot's size.
func dataDirectoryFigures(_ cluster: Cluster, seededSnapshotBytes snapshotBytes: Int) -> Int {
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
    return newestSnapshot
}

/// (b) Restarts: a follower, then the leader (and how long the next election takes).
func restartFigures(_ cluster: Cluster, quiet: TrackerStatus) throws {
    // (b) Restarts: a follower, then the leader.
    let follower = cluster.ids.first { $0 != quiet.id }!
    restartFigures(cluster, "follower", follower, target: quiet.commitIndex)
    guard let quiet2 = cluster.waitQuiescent(seconds: 120) else { throw BenchError("not quiescent after the follower restart") }
    let oldLeader = quiet2.id
    let electionStart = SystemClock.monotonicSeconds()
    let electionWatch = Thread {
        if let leader = cluster.waitForLeader(seconds: 60, excluding: oldLeader) {
            emit("restart.leader.new_leader_elected", (SystemClock.monotonicSeconds() - electionStart) * 1_000, "ms", ["new_leader": "\(leader.id)"])
        }
    }
    electionWatch.start()
    restartFigures(cluster, "leader", oldLeader, target: quiet2.commitIndex)
    usleep(500_000)
}

/// (c) A wiped follower catches up from the leader's snapshot.
func wipedFollowerFigures(_ cluster: Cluster, newestSnapshot: Int) throws {
    // (c) A wiped follower catches up.
    guard let quiet3 = cluster.waitQuiescent(seconds: 120) else { throw BenchError("not quiescent after the leader restart") }
    let wiped = cluster.ids.first { $0 != quiet3.id }!
    let leaderLogBefore = cluster.log(quiet3.id).count
    let wipedLogBefore = cluster.log(wiped).count
    cluster.kill9(wiped)
    // Its state goes, its pinned identity stays (a replaced disk restored from the key backup).
    try cluster.trackers.wipeKeepingIdentity(wiped)
    let startedWiped = SystemClock.monotonicSeconds()
    try cluster.start(wiped)
    try readd(cluster, wiped)
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
}

/// The human summary after the JSON lines.
func printSummary(_ outcome: WriteOutcome, _ options: Options) {
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

/// An empty data directory is a new identity: the cluster refuses it as its old self until it
/// is removed and added back as a learner (README, Changing the cluster).
private func readd(_ cluster: Cluster, _ wiped: TrackerID) throws {
    let trackers = cluster.trackers
    guard let address = try trackers.config().address(of: wiped) else { throw BenchError("tracker \(wiped) is not in cluster.conf") }
    let pin = trackers.fingerprints[wiped].map { ["--fingerprint", "\($0)"] } ?? []
    for words in [["remove", "--id", "\(wiped)"], ["add", "--id", "\(wiped)", "--address", address.description] + pin] {
        let tool = Process()
        tool.executableURL = URL(fileURLWithPath: trackers.binary)
        // Authenticated as a current member: that tracker's own TLS identity (or the cluster key).
        let member = trackers.ids.first { $0 != wiped } ?? wiped
        tool.arguments = ["member"] + words + ["--conf", trackers.confPath, "--data-dir", trackers.dataDirectory(member)]
        tool.standardOutput = FileHandle.nullDevice
        try tool.run()
        tool.waitUntilExit()
        guard tool.terminationStatus == 0 else { throw BenchError("member \(words[0]) \(wiped) failed") }
    }
}
