import Foundation
import Hashing
import Networking
import Synchronization
import SystemClock
import TrackerProtocol

/// Why a call to the cluster gave up.
public enum TrackerClientError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No tracker answered with a result before the deadline.
    case unavailable(String)
    /// A tracker presented a certificate its cluster.conf line does not pin (not retried).
    case notPinned(String)

    public var description: String {
        switch self {
        case let .unavailable(detail): "tracker cluster unavailable: \(detail)"
        case let .notPinned(detail): "tracker refused: \(detail)"
        }
    }
}

/// A blocking client of the tracker cluster. It keeps one connection to the tracker it believes
/// leads, follows redirects, moves on after failures with backoff (`LeaderFinder`), and retries
/// a request with the same sequence number, so a retry after a failover is applied at most once.
/// Calls are serialized: one request at a time per client (make several clients for concurrency).
public final class TrackerClient: Sendable {
    /// Timing of calls.
    public struct Timing: Sendable {
        /// The retry policy (shared with SimNet's clients): attempt timeout, call deadline.
        public var policy = CallPolicy()
        /// How long one attempt waits for an answer.
        public var attemptTimeoutMillis: Int {
            get { Int(policy.attemptTimeoutMillis) }
            set { policy.attemptTimeoutMillis = UInt64(max(1, newValue)) }
        }
        /// How long a call keeps trying before it gives up.
        public var callDeadlineMillis: Int {
            get { Int(policy.callDeadlineMillis) }
            set { policy.callDeadlineMillis = UInt64(max(1, newValue)) }
        }
        /// Connection timeout.
        public var connectTimeoutMillis = 500
        /// How long a call that allows stale answers looks for a leader before it also takes
        /// one from a tracker that knows none (several election timeouts: a failover that
        /// elects a leader still answers linearizably). After a stale answer, the next such
        /// calls allow it from their first attempt, until a leader answers again.
        public var staleReadAfterMillis = 1_000

        /// Default timing.
        public init() {}
    }

    struct State: ~Copyable {
        var finder: LeaderFinder
        var sequence: UInt64 = 0
        var connection: FramedConnection?
        var connectedTo: TrackerID = 0
        var nextTag: UInt64 = 1
        /// Recent answer times, for the adaptive attempt timeout.
        var answers = AnswerTimes()
        /// When the members were last asked of a tracker (monotonic ms; 0: never).
        var membersAskedMillis: UInt64 = 0
        /// The last answer was possibly stale: no leader was found then.
        var isLeaderless = false
    }

    /// This client's id for exactly-once answers.
    public let clientID: UInt64
    public let timing: Timing
    let state: Mutex<State>
    let authenticator: HandshakeAuthenticator
    /// TLS to the trackers, each pinned by its cluster.conf line; nil: plaintext (a cluster.conf
    /// without fingerprints, for trackers run with `--insecure`).
    let tls: TLSContext?
    let cluster: ClusterConfig
    /// The members learned from the cluster (shared by the clients of a process), with their pins.
    public let members: ClusterMembers
    /// The certificate this client presents to trackers, which its logins name; empty in plaintext.
    public let certificateFingerprint: [UInt8]

    /// Makes a client of the trackers in `cluster`, with a random client id. When `cluster`
    /// pins any fingerprint every connection is TLS, presenting `identity` (an ephemeral one
    /// when nil), and a tracker is trusted only with the certificate its line pins, checked
    /// before anything is sent; otherwise connections are plaintext. `members` (of the same
    /// cluster.conf) is shared with other clients and may remember members in a file; a client
    /// follows the members a tracker it authenticated reports, trusting their pins.
    public init(cluster: ClusterConfig, timing: Timing = Timing(), identity: TLSIdentity? = nil, members: ClusterMembers? = nil) throws {
        let members = members ?? ClusterMembers(cluster: cluster)
        var trackers = cluster.trackers.map { LeaderFinder.Tracker(id: $0.id, address: $0.address.description) }
        let own = Set(cluster.ids)
        trackers += members.trackers.filter { !own.contains($0.id) }.prefix(max(0, LeaderFinder.trackersMax - trackers.count))
        self.members = members
        clientID = try SecureRandom.uint64() | 1
        self.timing = timing
        self.cluster = cluster
        if cluster.fingerprints.isEmpty {
            tls = nil
            certificateFingerprint = []
        } else {
            let own = try identity ?? TLSIdentity.makeEphemeral(commonName: "client")
            tls = try TLSContext(side: .client, identity: own)
            certificateFingerprint = own.fingerprint.digest
        }
        state = Mutex(State(finder: LeaderFinder(trackers: trackers, seed: try SecureRandom.uint64())))
        authenticator = .libcrypto
    }

    /// Bytes of the session token a login chooses.
    public static let sessionTokenBytes = 32

    /// Sends `operation` to the leader and returns its answer: a result, a login, or a refusal
    /// that retrying cannot fix. Redirects, "no leader", timeouts and lost connections are
    /// retried (same sequence number) until the call's deadline. A login carries a new random
    /// session token chosen here (`token` is ignored for it); every retry carries the same one,
    /// so a login whose answer was lost after it committed is answered with that session.
    /// With `allowsStale`, a data-plane query (`ClientQuery.isStaleReadable`) that finds no
    /// leader within `staleReadAfterMillis` may be answered `possiblyStale` by a tracker that
    /// knows none.
    public func call(_ operation: ServiceOperation, token: [UInt8] = [], allowsStale: Bool = false) throws -> ClientResponse {
        var requestToken = token
        var operation = operation
        if case let .login(userID, password, peerAddress, named) = operation {
            requestToken = try SecureRandom.bytes(count: Self.sessionTokenBytes)
            // A login names the certificate this client presents, unless the caller named one.
            if named.isEmpty {
                operation = .login(userID: userID, password: password, peerAddress: peerAddress, certificateFingerprint: certificateFingerprint)
            }
        }
        return try state.withLock { [operation] state in
            state.sequence += 1
            let request = ClientRequest(clientID: clientID, sequence: state.sequence, token: requestToken, operation: operation)
            return try send(request, state: &state, allowsStale: allowsStale)
        }
    }

    /// Asks one tracker for its status, without retries.
    public func status(of tracker: ClusterConfig.Tracker) -> Result<TrackerStatus, any Error> {
        Result {
            guard case let .status(status) = try askOnce(.clusterStatus, tracker: tracker) else {
                throw TrackerClientError.unavailable("unexpected answer to a status request")
            }
            members.learn(status)
            return status
        }
    }

    /// Sends one request to one tracker over a new connection and returns its answer as it is
    /// (a redirect included): no retry, no leader search.
    public func askOnce(_ operation: ServiceOperation, token: [UInt8] = [], tracker: ClusterConfig.Tracker) throws -> ClientResponse {
        let connection = try connect(to: LeaderFinder.Tracker(id: tracker.id, address: tracker.address.description))
        defer { connection.close() }
        let sequence = state.withLock { state in
            state.sequence += 1
            return state.sequence
        }
        let request = ClientRequest(clientID: clientID, sequence: sequence, token: token, operation: operation)
        return try exchange(request, tag: 1, on: connection)
    }

    /// Closes the connection; the next call opens a new one.
    public func close() {
        state.withLock { state in
            state.connection?.close()
            state.connection = nil
        }
    }

    private func send(_ request: ClientRequest, state: inout State, allowsStale: Bool) throws -> ClientResponse {
        var request = request
        let start = SystemClock.monotonicMillis()
        let deadline = start + timing.policy.callDeadlineMillis(for: request.operation)
        let staleFrom = staleReadStart(request, allowsStale: allowsStale, start: start, isLeaderless: state.isLeaderless)
        var lastProblem = "no attempt made"
        while SystemClock.monotonicMillis() < deadline {
            if let staleFrom, SystemClock.monotonicMillis() >= staleFrom { request.allowsStale = true }
            let outcome: AttemptOutcome
            do {
                // A silent tracker costs at most the adaptive wait, to connect as to answer.
                let waitMillis = timing.policy.attemptTimeoutMillis(for: request.operation, recent: state.answers)
                let connection = try currentConnection(&state, connectMillis: min(timing.connectTimeoutMillis, Int(waitMillis)))
                let tag = state.nextTag
                state.nextTag += 1
                try connection.socket.setReceiveTimeout(millis: Int(waitMillis))
                let sent = SystemClock.monotonicMillis()
                let response: ClientResponse
                switch request.operation {
                case .createUser, .login:
                    response = try awaitPasswordAnswer(request, tag: tag, nextTag: &state.nextTag, on: connection, untilMillis: deadline)
                case .command, .query, .clusterStatus:
                    response = try exchange(request, tag: tag, on: connection)
                    let now = SystemClock.monotonicMillis()
                    state.answers.record(now > sent ? now - sent : 0)
                }
                outcome = .answered(response)
            } catch let refusal as TrackerRefusal {
                state.connection = nil
                outcome = .refused(refusal.description)
            } catch let error as TrackerClientError {
                state.connection?.close()
                state.connection = nil
                throw error
            } catch {
                state.connection?.close()
                state.connection = nil
                outcome = .failed("\(error)")
            }
            switch timing.policy.decide(outcome, finder: &state.finder) {
            case let .done(response):
                if case .possiblyStale = response { state.isLeaderless = true } else { state.isLeaderless = false }
                return response
            case let .retry(pause, problem):
                lastProblem = problem
                if pause > 0 { usleep(UInt32(min(pause, 1_000) * 1_000)) }
            }
        }
        throw TrackerClientError.unavailable(lastProblem)
    }

    /// When a call may start asking for stale answers (nil: never).
    private func staleReadStart(_ request: ClientRequest, allowsStale: Bool, start: UInt64, isLeaderless: Bool) -> UInt64? {
        guard allowsStale, case let .query(query) = request.operation, query.isStaleReadable else { return nil }
        return isLeaderless ? start : start + UInt64(max(0, timing.staleReadAfterMillis))
    }
}
