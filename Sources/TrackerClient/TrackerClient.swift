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

    private struct State: ~Copyable {
        var finder: LeaderFinder
        var sequence: UInt64 = 0
        var connection: FramedConnection?
        var connectedTo: TrackerID = 0
        var nextTag: UInt64 = 1
        /// Recent answer times, for the adaptive attempt timeout.
        var answers = AnswerTimes()
        /// The last answer was possibly stale: no leader was found then.
        var isLeaderless = false
    }

    /// This client's id for exactly-once answers.
    public let clientID: UInt64
    public let timing: Timing
    private let state: Mutex<State>
    private let authenticator: HandshakeAuthenticator
    /// TLS to the trackers, each pinned by its cluster.conf line; nil: plaintext (a cluster.conf
    /// without fingerprints, for trackers run with `--insecure`).
    private let tls: TLSContext?
    private let cluster: ClusterConfig
    /// The certificate this client presents to trackers, which its logins name; empty in plaintext.
    public let certificateFingerprint: [UInt8]

    /// Makes a client of the trackers in `cluster`, with a random client id. When `cluster`
    /// pins any fingerprint every connection is TLS, presenting `identity` (an ephemeral one
    /// when nil), and a tracker is trusted only with the certificate its line pins, checked
    /// before anything is sent; otherwise connections are plaintext.
    public init(cluster: ClusterConfig, timing: Timing = Timing(), identity: TLSIdentity? = nil) throws {
        let trackers = cluster.trackers.map { LeaderFinder.Tracker(id: $0.id, address: $0.address.description) }
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
            return status
        }
    }

    /// Sends one request to one tracker over a new connection and returns its answer as it is
    /// (a redirect included): no retry, no leader search.
    public func askOnce(_ operation: ServiceOperation, token: [UInt8] = [], tracker: ClusterConfig.Tracker) throws -> ClientResponse {
        let connection = try connect(to: tracker.address.description)
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

    private func currentConnection(_ state: inout State, connectMillis: Int) throws -> FramedConnection {
        let target = state.finder.target
        if let connection = state.connection, state.connectedTo == target.id { return connection }
        state.connection?.close()
        state.connection = nil
        let connection = try connect(to: target.address, timeoutMillis: connectMillis)
        state.connection = connection
        state.connectedTo = target.id
        return connection
    }

    private func connect(to address: String, timeoutMillis: Int? = nil) throws -> FramedConnection {
        let parsed = try PeerAddress.parse(address)
        let socket = try Socket.connect(host: parsed.host, port: parsed.port, timeoutMillis: timeoutMillis ?? timing.connectTimeoutMillis)
        do {
            let connection = try secure(socket, address: parsed)
            _ = try Handshake.perform(on: connection, as: .dialer, role: .client, id: clientID, key: nil, auth: authenticator)
            try socket.setReceiveTimeout(millis: timing.attemptTimeoutMillis)
            return connection
        } catch {
            socket.close()
            throw TrackerRefusal.classify(error)
        }
    }

    /// TLS pinned to the line of the tracker at `address` (any of cluster.conf's pins for an
    /// address no line names, e.g. a redirect to a tracker added later), or plaintext.
    private func secure(_ socket: Socket, address: PeerAddress) throws -> FramedConnection {
        guard let tls else { return FramedConnection(socket: socket) }
        let line = cluster.trackers.first { $0.address == address }
        let pins = line.map { $0.fingerprint.map { [$0] } ?? [] } ?? cluster.fingerprints
        let name = line.map { "tracker \($0.id) (\(address))" } ?? "tracker at \(address)"
        guard !pins.isEmpty else { throw TrackerClientError.notPinned("cluster.conf: \(name) has no sha256: fingerprint") }
        let deadline = ContinuousClock.now + .milliseconds(timing.connectTimeoutMillis + NetworkingLimits.handshakeTimeoutMillis)
        do {
            return FramedConnection(tls: try TLSStream.handshake(socket: socket, context: tls, verification: .pinned(Set(pins)), deadline: deadline))
        } catch TLSError.peerNotPinned(let presented) {
            let pinned = pins.map(\.description).joined(separator: " or ")
            throw TrackerClientError.notPinned("cluster.conf: \(name) presented certificate \(presented), but its line pins \(pinned)")
        }
    }

    private func exchange(_ request: ClientRequest, tag: UInt64, on connection: FramedConnection) throws -> ClientResponse {
        let payload = ServiceFrame.tagged(tag, ServiceCodec.encode(request))
        try connection.writeFrame(Frame(type: ServiceFrame.request, payload: payload))
        // Answers to earlier attempts on this connection may still arrive: skip them.
        for _ in 0..<64 {
            let frame = try connection.readFrame(maxBytes: ServiceCodec.bodyBytesMax + 64)
            guard frame.type == ServiceFrame.response else { continue }
            let (answerTag, body) = try ServiceFrame.untagged(frame.payload)
            if answerTag == tag { return try ServiceCodec.decodeResponse(body) }
        }
        throw TrackerClientError.unavailable("no answer with the expected tag")
    }
}
