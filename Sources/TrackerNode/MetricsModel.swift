import Consensus
import Glibc
import Synchronization
import TrackerHosting
import TrackerProtocol

/// The metrics endpoint's limits and histogram bounds, in one place.
enum MetricsLimits {
    /// Bucket bounds of the fsync and apply latency histograms: 100 µs to 10 s.
    static let latencyBucketsSeconds: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    /// Bucket bounds of the snapshot duration histogram: 10 ms to 2 min.
    static let snapshotBucketsSeconds: [Double] = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]
    /// HTTP connections served at once; more are closed at once.
    static let connectionsMax = 4
    /// Largest request head (request line and headers) read.
    static let requestHeadBytesMax = 8_192
    /// Time a connection has to send its request head.
    static let readDeadlineMillis = 2_000
    /// Time the answer may take to leave.
    static let sendTimeoutMillis = 2_000
    /// After answering, how long and how many bytes the rest of a request is read and dropped.
    static let lingerMillis = 500
    static let lingerBytesMax = 65_536
}

/// Nanoseconds of the monotonic clock, for latencies measured on one thread.
func monotonicNanos() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}

/// Seconds from `start` to `end` (two readings on one thread); zero if the clock went back.
func seconds(fromNanos start: UInt64, to end: UInt64) -> Double {
    end >= start ? Double(end - start) / 1e9 : 0
}

/// What the event loop counts, on its own thread only: changes of leader, entries proposed,
/// committed and applied, and the fsync and apply latencies.
struct LoopMetrics: Equatable, Sendable {
    private(set) var leaderChanges: UInt64 = 0
    private(set) var proposals: UInt64 = 0
    private(set) var committedEntries: UInt64 = 0
    private(set) var appliedEntries: UInt64 = 0
    var fsyncSeconds = Histogram(bounds: MetricsLimits.latencyBucketsSeconds)
    var applySeconds = Histogram(bounds: MetricsLimits.latencyBucketsSeconds)
    private var lastLeaderTerm: UInt64 = 0
    private var lastLeader: NodeID = 0
    private var lastCommitIndex: UInt64

    /// Starts counting at the commit index the tracker restarted with.
    init(commitIndex: UInt64 = 0) { lastCommitIndex = commitIndex }

    /// Counts what one carried-out batch did: `ownEntries` appended by this tracker as leader,
    /// `applied` entries applied; a leader known in a new term (or a new leader) is a change;
    /// the commit index's advance is the entries committed.
    mutating func observeBatch(term: UInt64, leader: NodeID, commitIndex: UInt64, ownEntries: Int, applied: Int) {
        if leader != 0, leader != lastLeader || term != lastLeaderTerm {
            leaderChanges &+= 1
            lastLeader = leader
            lastLeaderTerm = term
        }
        if commitIndex > lastCommitIndex { committedEntries &+= commitIndex - lastCommitIndex }
        lastCommitIndex = max(lastCommitIndex, commitIndex)
        proposals &+= UInt64(max(0, ownEntries))
        appliedEntries &+= UInt64(max(0, applied))
    }
}

/// A follower's distance behind the leader's log.
struct FollowerLag: Equatable, Sendable {
    var id: NodeID
    var entries: UInt64
}

/// What the event loop publishes for the metrics endpoint, once per tick: a copy, so the
/// endpoint never touches the loop's state.
struct LoopSample: Equatable, Sendable {
    var role: TrackerRole = .follower
    var term: UInt64 = 0
    var leader: NodeID = 0
    var commitIndex: UInt64 = 0
    var appliedIndex: UInt64 = 0
    var lastIndex: UInt64 = 0
    /// On a leader, each follower's lag, by ascending id; empty otherwise.
    var followerLag: [FollowerLag] = []
    var pendingRequests = 0
    var pendingPasswordRequests = 0
    var sessionsOnline = 0
    var snapshotIndex: UInt64 = 0
    var snapshotBytes = 0
    var snapshotsInstalled = 0
    var refusedByCore: UInt64 = 0
    var loop = LoopMetrics()

    /// The sample of `host` now.
    static func make(host: TrackerHost, executor: HostExecutor.ExecutorCounters, loop: LoopMetrics) -> LoopSample {
        let status = host.status
        let lag = status.followerMatch.sorted { $0.id < $1.id }.map {
            FollowerLag(id: $0.id, entries: status.lastIndex >= $0.matchIndex ? status.lastIndex - $0.matchIndex : 0)
        }
        return LoopSample(role: status.role, term: status.term, leader: status.leader, commitIndex: status.commitIndex,
                          appliedIndex: status.appliedIndex, lastIndex: status.lastIndex, followerLag: lag,
                          pendingRequests: host.pendingCount, pendingPasswordRequests: host.passwordRequestCount,
                          sessionsOnline: host.machine.state.sessionCount,
                          snapshotIndex: host.latestSnapshot?.meta.index ?? 0, snapshotBytes: host.latestSnapshot?.data.count ?? 0,
                          snapshotsInstalled: executor.snapshotsInstalled, refusedByCore: host.raft.refusals.messages, loop: loop)
    }
}

/// Counts kept by the shell's other threads (listener, snapshot writer): atomics and a lock of
/// their own, never the event loop's.
final class ShellCounters: Sendable {
    /// Connections refused before a thread was spent on them (budget or address share).
    let connectionsRefused = Atomic<UInt64>(0)
    /// Handshakes that failed or came from a role or id not allowed.
    let handshakesRefused = Atomic<UInt64>(0)
    /// Raft messages refused at the boundary, before the core.
    let messagesRefused = Atomic<UInt64>(0)
    /// Seconds to serialize and write each snapshot this tracker took.
    let snapshotSeconds = Mutex(Histogram(bounds: MetricsLimits.snapshotBucketsSeconds))

    /// What was refused.
    enum Refusal {
        case connection, handshake, message
    }

    /// Counts one refusal.
    func count(_ refusal: Refusal) {
        switch refusal {
        case .connection: connectionsRefused.wrappingAdd(1, ordering: .relaxed)
        case .handshake: handshakesRefused.wrappingAdd(1, ordering: .relaxed)
        case .message: messagesRefused.wrappingAdd(1, ordering: .relaxed)
        }
    }
}

/// What the shell's threads counted, read at once.
struct ShellSample: Equatable, Sendable {
    var clientConnections = 0
    var connectionsRefused: UInt64 = 0
    var handshakesRefused: UInt64 = 0
    var messagesRefused: UInt64 = 0
    var snapshotSeconds = Histogram(bounds: MetricsLimits.snapshotBucketsSeconds)
}

/// Where the event loop publishes and the endpoint reads: the loop replaces the sample under
/// a lock held only for the copy; the endpoint copies it out and renders without the lock.
final class MetricsStore: Sendable {
    private let loop = Mutex<LoopSample?>(nil)
    let shell: ShellCounters
    private let clientCount: @Sendable () -> Int

    init(shell: ShellCounters, clientCount: @escaping @Sendable () -> Int) {
        self.shell = shell
        self.clientCount = clientCount
    }

    /// Event loop: replaces the published sample.
    func publish(_ sample: LoopSample) { loop.withLock { $0 = sample } }

    /// Endpoint: the whole text of `GET /metrics`.
    func render() -> String {
        let published = loop.withLock { $0 }
        let shellSample = ShellSample(clientConnections: clientCount(),
                                      connectionsRefused: shell.connectionsRefused.load(ordering: .relaxed),
                                      handshakesRefused: shell.handshakesRefused.load(ordering: .relaxed),
                                      messagesRefused: shell.messagesRefused.load(ordering: .relaxed),
                                      snapshotSeconds: shell.snapshotSeconds.withLock { $0 })
        return PrometheusText.render(MetricsFamilies.all(loop: published, shell: shellSample))
    }
}
