import Consensus
import Foundation
import Synchronization
import SystemClock
import TrackerClient

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
    let start = SystemClock.monotonicSeconds()
    let deadline = start + Double(options.writeSeconds)
    let group = DispatchGroup()
    for worker in 0..<options.concurrency {
        group.enter()
        let thread = Thread {
            defer { group.leave() }
            var timing = TrackerClient.Timing()
            timing.callDeadlineMillis = 30_000
            guard let client = try? TrackerClient(cluster: cluster.config, timing: timing, identity: benchIdentity) else {
                failed.add(1, ordering: .relaxed)
                return
            }
            let token = tokens[worker % tokens.count]
            var own: [Double] = []
            own.reserveCapacity(options.writes / options.concurrency + 16)
            while SystemClock.monotonicSeconds() < deadline, claimed.add(1, ordering: .relaxed).newValue <= options.writes {
                let sent = SystemClock.monotonicSeconds()
                let answer = try? client.call(.command(.keepAlive), token: token)
                own.append(SystemClock.monotonicSeconds() - sent)
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
        var lastPrint = SystemClock.monotonicSeconds()
        var lastCount = 0
        while !finished.load(ordering: .relaxed) {
            recordPeaks(cluster, into: peaks)
            if SystemClock.monotonicSeconds() - lastPrint >= 10 {
                let count = completed.load(ordering: .relaxed)
                note(String(format: "writes: %d done, %d failed, %.0f/s over the last %.0f s", count, failed.load(ordering: .relaxed),
                            Double(count - lastCount) / (SystemClock.monotonicSeconds() - lastPrint), SystemClock.monotonicSeconds() - lastPrint))
                lastPrint = SystemClock.monotonicSeconds()
                lastCount = count
            }
            usleep(250_000)
        }
    }
    monitor.start()
    group.wait()
    let elapsed = SystemClock.monotonicSeconds() - start
    finished.store(true, ordering: .relaxed)
    usleep(300_000)
    emitPeaks(cluster, peaks)
    return WriteOutcome(done: completed.load(ordering: .relaxed), failed: failed.load(ordering: .relaxed), elapsed: elapsed,
                        latencies: latencies.withLock { $0 }.sorted(), firstError: firstError.withLock { $0 })
}

/// Raises each tracker's recorded peak data-directory usage to what it is now.
func recordPeaks(_ cluster: Cluster, into peaks: borrowing Mutex<[NodeID: DirectoryUsage]>) {
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
}

/// One figure per tracker: its peak data-directory usage during the writes.
func emitPeaks(_ cluster: Cluster, _ peaks: borrowing Mutex<[NodeID: DirectoryUsage]>) {
    for id in cluster.ids {
        guard let peak = peaks.withLock({ $0[id] }) else { continue }
        emit("tracker\(id).peak_during_writes.total", Double(peak.total), "bytes",
             ["snapshot_bytes_peak": "\(peak.snapshotBytes)", "segment_bytes_peak": "\(peak.segmentBytes)",
              "segments_peak": "\(peak.segmentCount)", "snapshot_files_peak": "\(peak.snapshotCount)", "sampled_every": "250 ms"])
    }
}
