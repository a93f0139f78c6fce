import SeededRandom

/// Where a client sends its next attempt, and how long it waits first. Pure: the real client
/// and SimNet's simulated clients share it, so both find the leader the same way.
///
/// The client starts at a random tracker, follows redirects at once (a bounded number in a row),
/// and after a failure (no leader, timeout, refused connection) moves to the next tracker; once
/// every tracker has failed in a row it backs off exponentially, with jitter, up to a ceiling.
public struct LeaderFinder: Sendable {
    /// One tracker: its id and its `host:port`.
    public struct Tracker: Equatable, Sendable {
        public var id: TrackerID
        public var address: String

        /// Makes a tracker entry.
        public init(id: TrackerID, address: String) {
            self.id = id
            self.address = address
        }
    }

    /// Timing and bounds of the search.
    public struct Policy: Sendable {
        /// Pause after every tracker failed once in a row.
        public var backoffMinMillis: UInt64 = 50
        /// The longest pause.
        public var backoffMaxMillis: UInt64 = 1_000
        /// Redirects followed in a row before they count as a failure (a redirect loop).
        public var redirectsInRowMax = 3
        /// Refused connections in a row to one tracker before the finder moves on (see
        /// `refused()`).
        public var refusalsInRowMax = 8

        /// The default policy.
        public init() {}
    }

    /// Every tracker, sorted by id: the seed list, and trackers a redirect named since (a
    /// tracker added at runtime need not be in the client's cluster.conf).
    public private(set) var trackers: [Tracker]
    /// The most trackers the finder keeps (a redirect beyond it counts as a failure).
    public static let trackersMax = 64
    /// The longest address a redirect may name.
    public static let addressBytesMax = 255
    public let policy: Policy
    private var cursor: Int
    private var failuresInRow = 0
    private var redirectsInRow = 0
    private var refusalsInRow = 0
    private var random: SeededGenerator

    /// Starts at a tracker chosen with `seed`.
    public init(trackers: [Tracker], seed: UInt64, policy: Policy = Policy()) {
        precondition(!trackers.isEmpty, "no trackers")
        self.trackers = trackers.sorted { $0.id < $1.id }
        self.policy = policy
        random = SeededGenerator(seed: seed)
        cursor = Int.random(in: 0..<trackers.count, using: &random)
    }

    /// The tracker to send the next attempt to.
    public var target: Tracker { trackers[cursor] }

    /// The attempt succeeded: stay with this tracker.
    public mutating func succeeded() {
        failuresInRow = 0
        redirectsInRow = 0
        refusalsInRow = 0
    }

    /// The tracker accepted the connection and closed it before the handshake was over: it is
    /// alive and at one of its connection limits (e.g. connections per address). Moving on
    /// would cost another tracker a handshake only to be sent back here, so the finder stays,
    /// backing off exponentially with jitter, and moves on only after `refusalsInRowMax`
    /// refusals in a row. Returns the pause before the next attempt.
    public mutating func refused() -> UInt64 {
        refusalsInRow += 1
        guard refusalsInRow <= policy.refusalsInRowMax else { return failed() }
        let ceiling = min(policy.backoffMaxMillis, policy.backoffMinMillis << UInt64(min(refusalsInRow - 1, 16)))
        return ceiling / 2 + UInt64.random(in: 0...(ceiling / 2), using: &random)
    }

    /// The tracker named another as leader, at `address` if it said. A leader the finder does
    /// not know is added (up to `trackersMax`), and a known one's address follows the redirect,
    /// so clients follow configuration changes. Returns the pause before the next attempt.
    public mutating func redirected(to leader: TrackerID, address: String? = nil) -> UInt64 {
        redirectsInRow += 1
        if let address, !address.isEmpty, address.utf8.count <= Self.addressBytesMax, leader != 0 {
            learn(Tracker(id: leader, address: address))
        }
        guard redirectsInRow <= policy.redirectsInRowMax, let i = trackers.firstIndex(where: { $0.id == leader }) else {
            redirectsInRow = 0
            return failed()
        }
        cursor = i
        return 0
    }

    /// Learns `trackers` (members a tracker reported): each is added or its address updated,
    /// up to `trackersMax`; the cursor stays on the tracker it was on.
    public mutating func learn(_ trackers: [Tracker]) {
        for tracker in trackers where tracker.id != 0 && !tracker.address.isEmpty && tracker.address.utf8.count <= Self.addressBytesMax {
            learn(tracker)
        }
    }

    /// Follows the configuration of a tracker known to lead (it answered a request): its
    /// `members` are learned, and every other tracker is forgotten except those in `kept`
    /// (the seed list), so removed trackers stop costing attempts. The cursor stays on its
    /// tracker if that one is kept.
    public mutating func follow(_ members: [Tracker], keeping kept: Set<TrackerID>) {
        guard !members.isEmpty else { return }
        learn(members)
        let current = trackers[cursor].id
        let wanted = Set(members.map(\.id)).union(kept)
        let remaining = trackers.filter { wanted.contains($0.id) }
        guard !remaining.isEmpty else { return }
        trackers = remaining
        cursor = trackers.firstIndex { $0.id == current } ?? 0
    }

    /// Adds `tracker`, or updates the address of the tracker with its id, keeping the order by
    /// id and the cursor on the tracker it was on.
    mutating func learn(_ tracker: Tracker) {
        let current = trackers[cursor].id
        if let i = trackers.firstIndex(where: { $0.id == tracker.id }) {
            trackers[i].address = tracker.address
            return
        }
        guard trackers.count < Self.trackersMax else { return }
        trackers.append(tracker)
        trackers.sort { $0.id < $1.id }
        cursor = trackers.firstIndex { $0.id == current } ?? 0
    }

    /// The attempt failed (no leader, timeout, connection refused). Moves to the next tracker
    /// and returns the pause before the next attempt.
    public mutating func failed() -> UInt64 {
        failuresInRow += 1
        refusalsInRow = 0
        cursor = (cursor + 1) % trackers.count
        guard failuresInRow >= trackers.count else { return 0 }
        let rounds = min(failuresInRow / trackers.count, 16)
        let ceiling = min(policy.backoffMaxMillis, policy.backoffMinMillis << UInt64(rounds - 1))
        return ceiling / 2 + UInt64.random(in: 0...(ceiling / 2), using: &random)
    }
}

/// What became of one attempt of a call.
public enum AttemptOutcome: Sendable {
    /// A tracker answered.
    case answered(ClientResponse)
    /// No answer: the attempt timed out, the connection failed or was refused.
    case failed(String)
    /// The tracker closed the connection before its handshake was over (at its limits).
    case refused(String)
}

/// What a caller does next.
public enum CallDecision: Equatable, Sendable {
    /// The call is over with this answer (a result, a login, a refusal retrying cannot fix).
    case done(ClientResponse)
    /// Try again, with the same request, after this pause; `problem` says why.
    case retry(afterMillis: UInt64, problem: String)
}

/// The one retry policy of a call to the cluster, shared by the real client and SimNet's
/// clients: every attempt carries the same request (same client id, sequence and, for a login,
/// the same token), so a retry after a failover is applied at most once.
public struct CallPolicy: Sendable {
    /// How long one attempt waits for an answer at most before it counts as failed (and the
    /// whole wait for password work, which is slow by design).
    public var attemptTimeoutMillis: UInt64 = 2_000
    /// The shortest adaptive wait: an attempt that has not been answered within a few times the
    /// recent answer times (but at least this) is given up, so a silent leader costs about an
    /// election, not the full `attemptTimeoutMillis`.
    public var attemptTimeoutMinMillis: UInt64 = 150
    /// How many recent answer times the adaptive wait multiplies.
    public var attemptTimeoutAnswerMultiple: UInt64 = 8
    /// How long a call keeps trying before it gives up (its outcome is then unknown).
    public var callDeadlineMillis: UInt64 = 15_000
    /// The same for password work (create_user, login): in a login storm the leader checks
    /// passwords at the speed of its cores, so a login may wait its turn longer than a write.
    public var passwordCallDeadlineMillis: UInt64 = 60_000
    /// The shortest pause after "retry later".
    public var retryLaterMinMillis: UInt64 = 20

    /// The default policy.
    public init() {}

    /// How long the next attempt of `operation` may wait: password work (create_user, login)
    /// the full `attemptTimeoutMillis`; everything else a multiple of the recent answer times,
    /// between `attemptTimeoutMinMillis` and `attemptTimeoutMillis`.
    public func attemptTimeoutMillis(for operation: ServiceOperation, recent: AnswerTimes) -> UInt64 {
        switch operation {
        case .createUser, .login: return attemptTimeoutMillis
        case .command, .query, .clusterStatus: break
        }
        guard let typical = recent.typicalMillis else { return attemptTimeoutMillis }
        let scaled = typical.multipliedReportingOverflow(by: attemptTimeoutAnswerMultiple)
        return min(attemptTimeoutMillis, max(attemptTimeoutMinMillis, scaled.overflow ? .max : scaled.partialValue))
    }

    /// How long a call of `operation` keeps trying.
    public func callDeadlineMillis(for operation: ServiceOperation) -> UInt64 {
        switch operation {
        case .createUser, .login: max(callDeadlineMillis, passwordCallDeadlineMillis)
        case .command, .query, .clusterStatus: callDeadlineMillis
        }
    }

    /// Decides what follows an attempt, moving `finder` to the tracker to try next.
    public func decide(_ outcome: AttemptOutcome, finder: inout LeaderFinder) -> CallDecision {
        switch outcome {
        case let .failed(problem):
            return .retry(afterMillis: finder.failed(), problem: problem)
        case let .refused(problem):
            return .retry(afterMillis: finder.refused(), problem: problem)
        case let .answered(response):
            switch response {
            case let .redirect(leader, address):
                return .retry(afterMillis: finder.redirected(to: leader, address: address), problem: "redirected to tracker \(leader)")
            case .noLeader:
                return .retry(afterMillis: finder.failed(), problem: "no leader elected")
            case let .retryLater(reason):
                return .retry(afterMillis: max(finder.failed(), retryLaterMinMillis), problem: reason)
            case .result, .loggedIn, .rejected, .status, .possiblyStale:
                finder.succeeded()
                return .done(response)
            }
        }
    }
}

/// The answer times of a client's recent calls (not password work), for the adaptive attempt
/// timeout: a small ring, its typical value the largest of the last few (a cheap high
/// percentile that forgets a slow spell quickly).
public struct AnswerTimes: Sendable, Equatable {
    /// How many recent answers are kept.
    public static let kept = 16
    private var ring: [UInt64] = []
    private var next = 0

    /// No answers yet.
    public init() {}

    /// Records one answer time.
    public mutating func record(_ millis: UInt64) {
        if ring.count < Self.kept {
            ring.append(millis)
        } else {
            ring[next] = millis
        }
        next = (next + 1) % Self.kept
    }

    /// The largest recent answer time, or nil before the first answer.
    public var typicalMillis: UInt64? { ring.max() }
}
