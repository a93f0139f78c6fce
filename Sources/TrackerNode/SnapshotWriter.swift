import Consensus
import DurableLog
import Foundation
import TrackerHosting

/// Serializes and writes snapshots on a thread of its own, so that taking one never stalls
/// heartbeats or client service: the event loop hands over a copy of the state machine (a
/// value) and goes on; the result comes back as an input.
final class SnapshotWriter: Sendable {
    private let jobs = BlockingQueue<SnapshotJob>(capacity: 4)
    private let inputs: BlockingQueue<Input>
    private let directory: String
    /// Where each snapshot's serialize-and-write time is counted, for the metrics endpoint.
    private let counters: ShellCounters

    init(directory: String, inputs: BlockingQueue<Input>, counters: ShellCounters = ShellCounters()) {
        self.counters = counters
        self.directory = directory
        self.inputs = inputs
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "snapshot-writer"
        thread.start()
    }

    func submit(_ job: SnapshotJob) { jobs.push(job) }

    private func run() {
        let store = SnapshotStore(directory: directory)
        while true {
            for job in jobs.drain(timeoutMillis: nil) {
                let start = monotonicMillis()
                let startNanos = monotonicNanos()
                let snapshot = Snapshot(meta: job.meta, data: job.machine.snapshot())
                let serialized = monotonicMillis()
                do {
                    try store.write(snapshot)
                    let elapsed = seconds(fromNanos: startNanos, to: monotonicNanos())
                    counters.snapshotSeconds.withLock { $0.observe(elapsed) }
                    Log.info("snapshot taken", ["snapshot.index": "\(job.meta.index)", "snapshot.bytes": "\(snapshot.data.count)",
                                                "serialize.ms": "\(serialized - start)", "write.ms": "\(monotonicMillis() - serialized)"])
                    inputs.push(.snapshotWritten(snapshot))
                } catch {
                    Log.error("snapshot write failed", ["error": "\(error)"])
                    inputs.push(.snapshotWritten(nil))
                }
            }
        }
    }
}
