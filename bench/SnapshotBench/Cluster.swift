import Foundation
import Networking
import ProcessHarness
import SystemClock
import TrackerClient
import TrackerProtocol

/// The certificate every bench client presents (nil: each makes its own): a session is bound
/// to the certificate it logged in with, and the writers use tokens another client logged in.
let benchIdentity = try? TLSIdentity.makeEphemeral(commonName: "snapshot-bench")

// MARK: - The cluster

/// The harness's three-tracker `TrackerCluster` in the run's folder, with a status client.
final class Cluster: Sendable {
    let trackers: TrackerCluster
    let config: ClusterConfig
    let statusClient: TrackerClient
    var ids: [TrackerID] { trackers.ids }

    init(parent: String, binary: String, arguments: [String]) throws {
        // The bench users all log in from 127.0.0.1: lift the per-address password rate.
        trackers = try TrackerCluster(size: 3, binary: binary, extraArguments: ["--password-rate", "100000"] + arguments,
                                      parent: parent, prefix: "cluster")
        config = try trackers.config()
        var timing = TrackerClient.Timing()
        timing.attemptTimeoutMillis = 1_000
        timing.connectTimeoutMillis = 300
        statusClient = try TrackerClient(cluster: config, timing: timing, identity: benchIdentity)
    }

    func dataDirectory(_ id: TrackerID) -> String { trackers.dataDirectory(id) }
    func log(_ id: TrackerID) -> String { trackers.log(id) }
    func start(_ id: TrackerID) throws { try trackers.start(id) }

    /// SIGKILL, and wait for the process to be gone.
    func kill9(_ id: TrackerID) { trackers.kill(id) }

    func status(_ id: TrackerID) -> TrackerStatus? {
        config.trackers.first { $0.id == id }.flatMap { try? statusClient.status(of: $0).get() }
    }

    func statuses() -> [TrackerStatus] { ids.compactMap { status($0) } }

    /// The one leader of the highest term among the answering trackers, within `seconds`.
    func waitForLeader(seconds: Double, excluding: TrackerID? = nil) -> TrackerStatus? {
        (try? trackers.waitForLeader(using: statusClient, among: ids.filter { $0 != excluding },
                                     timeoutMillis: Int(seconds * 1_000))) ?? nil
    }

    /// Waits until every tracker has applied the leader's commit index; returns the leader's status.
    func waitQuiescent(seconds: Double) -> TrackerStatus? {
        let deadline = SystemClock.monotonicSeconds() + seconds
        while SystemClock.monotonicSeconds() < deadline {
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
    let start = SystemClock.monotonicSeconds()
    do { try process.run() } catch { note("dd did not start: \(error)"); return }
    Children.shared.add(pid: process.processIdentifier)
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    Children.shared.remove(pid: process.processIdentifier)
    let elapsed = SystemClock.monotonicSeconds() - start
    try? FileManager.default.removeItem(atPath: path)
    emit("disk.dd_fdatasync", Double(megabytes) * 1_048_576 / elapsed / 1e6, "MB/s",
         ["dd": output.split(separator: "\n").last.map(String.init) ?? ""])
}
