import SystemClock
/// Why the peer server turned a connection away or closed it before serving it.
public enum RefusalCause: String, CaseIterable, Sendable {
    /// The unauthenticated pool was full: the busiest host's oldest connection was closed.
    case unauthenticatedFull = "unauthenticated_full"
    /// The host already had its share of unauthenticated connections: its oldest was closed.
    case hostUnauthenticatedCap = "host_unauthenticated_cap"
    /// Too many closed connections are still winding down: the newcomer was closed at once.
    case closingBacklog = "closing_backlog"
    /// The connection did not pass the membership check within the deadline.
    case deadline = "authentication_deadline"
    /// The handshake failed.
    case badHandshake = "bad_handshake"
    /// The first message was not a well-formed `open`.
    case badOpen = "bad_open"
    /// The tracker did not confirm the user as an online member connecting from its address.
    case notAuthorized = "not_authorized"
    /// Every upload slot was taken.
    case uploadsFull = "uploads_full"
    /// The user already held `uploadsPerUserMax` slots.
    case userCap = "user_cap"
    /// A served peer sent a message that does not belong in the protocol.
    case badRequest = "bad_request"
}

/// The peer server's connection accounting, with no I/O and no clock of its own (time is handed
/// in), so tests drive it directly. A connection is *unauthenticated* from accept until its
/// `open` passed the membership check, and only then takes one of `uploadsMax` upload slots.
/// Unauthenticated connections are bounded in number (`unauthenticatedMax`), per host
/// (`unauthenticatedPerHostMax`) and in time (`authenticationDeadlineMillis`). A newcomer never
/// waits for a full pool: it closes the oldest connection of its own host when that host is at
/// its cap, else the oldest of the busiest host; connections waiting for the tracker go last.
public struct PeerAdmission: Sendable {
    /// The bounds; `standard` is `TransferLimits`'.
    public struct Bounds: Equatable, Sendable {
        /// Authenticated connections at once.
        public var uploadsMax = TransferLimits.uploadsMax
        /// Authenticated connections of one user.
        public var uploadsPerUserMax = TransferLimits.uploadsPerUserMax
        /// Unauthenticated connections at once.
        public var unauthenticatedMax = TransferLimits.unauthenticatedMax
        /// Unauthenticated connections of one host.
        public var unauthenticatedPerHostMax = TransferLimits.unauthenticatedPerHostMax
        /// Closed connections whose thread is still ending.
        public var closingMax = TransferLimits.closingConnectionsMax
        /// Time from accept to authentication.
        public var deadlineMillis = UInt64(TransferLimits.authenticationDeadlineMillis)

        /// The standard bounds (change fields to try smaller ones).
        public init() {}

        /// The standard bounds.
        public static let standard = Bounds()
    }

    /// How far an unauthenticated connection got; `authorizing` ones are closed last.
    public enum Phase: Int, Comparable, Sendable {
        /// Accepted, handshake running.
        case handshaking
        /// Handshake done, `open` not yet received.
        case awaitingOpen
        /// `open` received, the tracker is being asked.
        case authorizing

        /// Earlier phases first.
        public static func < (lhs: Phase, rhs: Phase) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// Where one connection stands.
    public enum Standing: Equatable, Sendable {
        /// Not yet authenticated.
        case unauthenticated(Phase)
        /// Holds an upload slot for this user.
        case serving(userID: String)
        /// Told to close; its thread has not ended yet.
        case closing
    }

    /// What happened to a new connection.
    public enum Arrival: Equatable, Sendable {
        /// Accepted; `evicted` (when set) was closed to make room, for `cause`.
        case admitted(evicted: Int?, cause: RefusalCause?)
        /// Closed at once.
        case refused(RefusalCause)
    }

    /// What the membership check's success led to.
    public enum Promotion: Equatable, Sendable {
        /// The connection holds an upload slot now.
        case serving
        /// It was closed meanwhile (deadline or eviction): end it quietly.
        case closed
        /// No slot: refuse it for this cause.
        case refused(RefusalCause)
    }

    struct Entry: Sendable {
        let id: Int
        let host: String
        let arrivedMillis: UInt64
        var standing: Standing
    }

    /// The bounds in force.
    public let bounds: Bounds
    /// Every connection not yet ended, in arrival order.
    private(set) var entries: [Entry] = []

    /// Empty accounting under `bounds`.
    public init(bounds: Bounds = .standard) { self.bounds = bounds }

    /// Where connection `id` stands, nil once it left.
    public func standing(of id: Int) -> Standing? { entries.first { $0.id == id }?.standing }

    /// Connections holding an upload slot.
    public var servingCount: Int { entries.count { if case .serving = $0.standing { true } else { false } } }
    /// Connections not yet authenticated.
    public var unauthenticatedCount: Int { entries.count { $0.phase != nil } }
    /// Connections told to close whose thread has not ended.
    public var closingCount: Int { entries.count { $0.standing == .closing } }
}

extension PeerAdmission.Entry {
    var phase: PeerAdmission.Phase? {
        if case let .unauthenticated(phase) = standing { phase } else { nil }
    }
}

extension PeerAdmission {
    /// A connection from `host` was accepted as `id` (ids grow with every accept).
    public mutating func arrive(id: Int, host: String, nowMillis: UInt64) -> Arrival {
        guard closingCount < bounds.closingMax else { return .refused(.closingBacklog) }
        var victim: (id: Int, cause: RefusalCause)?
        let sameHost = entries.filter { $0.host == host && $0.phase != nil }
        if sameHost.count >= bounds.unauthenticatedPerHostMax {
            victim = Self.firstToClose(sameHost).map { ($0, .hostUnauthenticatedCap) }
        } else if unauthenticatedCount >= bounds.unauthenticatedMax {
            let busiest = busiestUnauthenticatedHost()
            victim = Self.firstToClose(entries.filter { $0.host == busiest && $0.phase != nil }).map { ($0, .unauthenticatedFull) }
        }
        if let victim { set(victim.id, to: .closing) }
        entries.append(Entry(id: id, host: host, arrivedMillis: nowMillis, standing: .unauthenticated(.handshaking)))
        return .admitted(evicted: victim?.id, cause: victim?.cause)
    }

    /// Connection `id` reached `phase`; false when it was closed meanwhile (end it).
    public mutating func advance(_ id: Int, to phase: Phase) -> Bool {
        guard let index = entries.firstIndex(where: { $0.id == id }), entries[index].phase != nil else { return false }
        entries[index].standing = .unauthenticated(phase)
        return true
    }

    /// The tracker confirmed `userID` on connection `id`: it takes an upload slot if one is free.
    public mutating func authorize(_ id: Int, userID: String) -> Promotion {
        guard let index = entries.firstIndex(where: { $0.id == id }), entries[index].phase != nil else { return .closed }
        guard servingCount < bounds.uploadsMax else { return .refused(.uploadsFull) }
        let ofUser = entries.count { $0.standing == .serving(userID: userID) }
        guard ofUser < bounds.uploadsPerUserMax else { return .refused(.userCap) }
        entries[index].standing = .serving(userID: userID)
        return .serving
    }

    /// Marks every unauthenticated connection older than the deadline as closing and returns
    /// their ids (in arrival order), for the caller to shut down.
    public mutating func expire(nowMillis: UInt64) -> [Int] {
        var expired: [Int] = []
        for index in entries.indices where entries[index].phase != nil {
            // The arrival time and `nowMillis` may be read on different threads: saturate.
            if elapsed(from: entries[index].arrivedMillis, to: nowMillis) >= bounds.deadlineMillis {
                entries[index].standing = .closing
                expired.append(entries[index].id)
            }
        }
        return expired
    }

    /// Connection `id`'s thread ended: whatever it held is free.
    public mutating func leave(_ id: Int) {
        entries.removeAll { $0.id == id }
    }

    private mutating func set(_ id: Int, to standing: Standing) {
        if let index = entries.firstIndex(where: { $0.id == id }) { entries[index].standing = standing }
    }

    /// The connection to close first among `candidates` (in arrival order): the oldest that is
    /// not waiting for the tracker, else the oldest. The handshake is public and cheap, so a
    /// finished handshake earns no protection; an `open` that passed the checks does.
    private static func firstToClose(_ candidates: [Entry]) -> Int? {
        candidates.first { $0.phase != nil && $0.phase != .authorizing }?.id ?? candidates.first { $0.phase != nil }?.id
    }

    /// The host with the most unauthenticated connections; ties go to the one that arrived first.
    private func busiestUnauthenticatedHost() -> String? {
        var counts: [String: Int] = [:]
        for entry in entries where entry.phase != nil { counts[entry.host, default: 0] += 1 }
        var busiest: (host: String, count: Int)?
        for entry in entries where entry.phase != nil {
            let count = counts[entry.host] ?? 0
            if busiest == nil || count > busiest!.count { busiest = (entry.host, count) }
        }
        return busiest?.host
    }
}

/// Refusals logged at most once per cause and interval, with how many were left unlogged.
public struct RefusalLog: Sendable {
    private var lastLoggedMillis: [RefusalCause: UInt64] = [:]
    private var unlogged: [RefusalCause: Int] = [:]
    /// The interval.
    public let intervalMillis: UInt64

    /// A log with `intervalMillis` between two lines of one cause.
    public init(intervalMillis: UInt64 = UInt64(TransferLimits.refusalLogIntervalMillis)) {
        self.intervalMillis = intervalMillis
    }

    /// Notes a refusal for `cause`; returns how many refusals of it went unlogged since its last
    /// line when this one is to be logged, or nil when it is to be counted only.
    public mutating func note(_ cause: RefusalCause, nowMillis: UInt64) -> Int? {
        if let last = lastLoggedMillis[cause], elapsed(from: last, to: nowMillis) < intervalMillis {
            unlogged[cause, default: 0] += 1
            return nil
        }
        lastLoggedMillis[cause] = nowMillis
        defer { unlogged[cause] = 0 }
        return unlogged[cause] ?? 0
    }
}
