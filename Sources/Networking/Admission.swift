/// A token bucket: holds at most `burst` tokens and gains `perSecond` of them a second; each
/// admitted event takes one. Time comes in as milliseconds of a monotonic clock, read by the
/// caller; a reading older than the last one (another thread read the clock first) counts as
/// no time passing, never as a huge one.
public struct TokenBucket: Sendable, Equatable {
    /// Most tokens the bucket holds (the largest burst it admits at once).
    public let burst: Double
    /// Tokens gained per second.
    public let perSecond: Double
    private var tokens: Double
    private var lastMillis: UInt64

    /// A full bucket at `nowMillis`.
    public init(burst: Int, perSecond: Double, nowMillis: UInt64) {
        self.burst = Double(max(1, burst))
        self.perSecond = max(0, perSecond)
        tokens = self.burst
        lastMillis = nowMillis
    }

    /// Takes one token if there is one; returns whether it did.
    public mutating func take(nowMillis: UInt64) -> Bool {
        refill(nowMillis: nowMillis)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// Whether the bucket would be full at `nowMillis` (it then carries no memory of the past).
    public func isFull(nowMillis: UInt64) -> Bool {
        var copy = self
        copy.refill(nowMillis: nowMillis)
        return copy.tokens >= copy.burst
    }

    private mutating func refill(nowMillis: UInt64) {
        let elapsedMillis = nowMillis > lastMillis ? nowMillis - lastMillis : 0
        lastMillis = max(lastMillis, nowMillis)
        tokens = min(burst, tokens + Double(elapsedMillis) * perSecond / 1000)
    }
}

/// Who may connect, and how often an address may ask for password work: open connections in
/// total (a budget) and per source address, and a token bucket per address. Pure bookkeeping,
/// no I/O or clock of its own; a shell keeps it behind a lock. Every address is treated alike,
/// loopback included.
public struct AddressAdmission: Sendable {
    /// The bounds, fixed at start.
    public struct Limits: Sendable, Equatable {
        /// Most connections open at once, from everyone.
        public var connectionsMax: Int
        /// Most connections open at once from one source address.
        public var connectionsPerAddressMax: Int
        /// Password requests one address may make at once before it must wait.
        public var passwordRequestsBurst: Int
        /// Password requests an address regains per second.
        public var passwordRequestsPerSecond: Double
        /// Most addresses remembered (buckets of idle addresses are forgotten once full).
        public var addressesTrackedMax: Int

        /// Makes limits; `validated()` checks them.
        public init(connectionsMax: Int, connectionsPerAddressMax: Int, passwordRequestsBurst: Int,
                    passwordRequestsPerSecond: Double, addressesTrackedMax: Int) {
            self.connectionsMax = connectionsMax
            self.connectionsPerAddressMax = connectionsPerAddressMax
            self.passwordRequestsBurst = passwordRequestsBurst
            self.passwordRequestsPerSecond = passwordRequestsPerSecond
            self.addressesTrackedMax = addressesTrackedMax
        }

        /// Nil when consistent, else what is wrong.
        public func problem() -> String? {
            guard connectionsMax >= 1, connectionsPerAddressMax >= 1 else { return "connection limits must be positive" }
            guard passwordRequestsBurst >= 1, passwordRequestsPerSecond > 0 else { return "password rate must be positive" }
            guard addressesTrackedMax >= connectionsMax else { return "must track at least as many addresses as connections" }
            return nil
        }
    }

    /// Why a connection was not admitted.
    public enum Refusal: Equatable, Sendable, CustomStringConvertible {
        /// Every connection slot is taken.
        case overBudget(limit: Int)
        /// This address already has its share of connections.
        case overAddressLimit(limit: Int)

        /// One line for logs.
        public var description: String {
            switch self {
            case .overBudget(let limit): return "connection budget of \(limit) in use"
            case .overAddressLimit(let limit): return "\(limit) connections from this address already"
            }
        }
    }

    private struct Entry: Sendable {
        var connections = 0
        var bucket: TokenBucket?
    }

    /// The bounds in force.
    public let limits: Limits
    private var entries: [String: Entry] = [:]
    /// Connections open now.
    public private(set) var connectionCount = 0

    /// Makes an empty admission with `limits` (check them with `Limits.problem()` first).
    public init(limits: Limits) { self.limits = limits }

    /// Addresses remembered now.
    public var trackedAddressCount: Int { entries.count }

    /// Admits one more connection from `address`, or says why not (nothing is counted then).
    public mutating func admit(address: String, nowMillis: UInt64) -> Refusal? {
        guard connectionCount < limits.connectionsMax else { return .overBudget(limit: limits.connectionsMax) }
        let current = entries[address]?.connections ?? 0
        guard current < limits.connectionsPerAddressMax else { return .overAddressLimit(limit: limits.connectionsPerAddressMax) }
        if entries[address] == nil { makeRoom(nowMillis: nowMillis) }
        entries[address, default: Entry()].connections = current + 1
        connectionCount += 1
        return nil
    }

    /// A connection from `address` that `admit` let in has closed.
    public mutating func release(address: String, nowMillis: UInt64) {
        guard var entry = entries[address], entry.connections > 0 else { return }
        entry.connections -= 1
        connectionCount -= 1
        if entry.connections == 0, entry.bucket?.isFull(nowMillis: nowMillis) ?? true {
            entries[address] = nil
        } else {
            entries[address] = entry
        }
    }

    /// Whether `address` may have one more password request now (takes a token if so).
    public mutating func allowPasswordRequest(address: String, nowMillis: UInt64) -> Bool {
        if entries[address] == nil {
            makeRoom(nowMillis: nowMillis)
            guard entries.count < limits.addressesTrackedMax else { return false } // cannot remember it: refuse
        }
        var entry = entries[address] ?? Entry()
        var bucket = entry.bucket ?? TokenBucket(burst: limits.passwordRequestsBurst, perSecond: limits.passwordRequestsPerSecond,
                                                 nowMillis: nowMillis)
        let isAllowed = bucket.take(nowMillis: nowMillis)
        entry.bucket = bucket
        entries[address] = entry
        return isAllowed
    }

    /// When the table is full, forgets addresses with no connection whose bucket has refilled:
    /// forgetting them changes nothing they could observe.
    private mutating func makeRoom(nowMillis: UInt64) {
        guard entries.count >= limits.addressesTrackedMax else { return }
        entries = entries.filter { $0.value.connections > 0 || !($0.value.bucket?.isFull(nowMillis: nowMillis) ?? true) }
    }
}
