import Glibc
import Networking
import TrackerProtocol

/// Every bound tracker-node puts on the connections it accepts, in one place. Units last.
enum ConnectionLimits {
    /// A connection must finish its handshake within this long after it was accepted.
    static let handshakeDeadlineMillis = 3_000
    /// A client connection on which no whole request arrived for this long is closed. A live
    /// client sends a keepalive every 3 s; a blocking client reconnects on its next call.
    static let clientIdleTimeoutMillis = 30_000
    /// A client whose pending reply bytes made no progress for this long is closed: a client
    /// that stops reading hurts only itself.
    static let replyStallMillisMax = 2_000
    /// Requests one client connection may have unanswered (read but reply not yet sent);
    /// beyond it the reader stops reading from that connection (TCP pushes back).
    static let requestsInFlightPerConnectionMax = 64
    /// Largest client frame: a request or a reply.
    static let clientFrameBytesMax = ServiceCodec.bodyBytesMax + 64
    /// Reply bytes queued for one connection beyond which it is closed (two largest replies).
    static let outboxBytesPerConnectionMax = 2 * (clientFrameBytesMax + Frame.headerBytes)
    /// Reply bytes queued for all connections together beyond which the connection adding
    /// more is closed.
    static let outboxBytesTotalMax = 256 << 20
    /// Connections open at once, lowered at start to fit the descriptor limit. A connection
    /// costs the event loop a table entry, its partial frame and its unsent bytes, not a thread.
    static let connectionsMax = 262_144
    /// Bytes the event loop reads from one connection per wake-up, so that one busy connection
    /// cannot starve the others (the rest waits in the kernel: level-triggered epoll).
    static let readBytesPerWakeMax = 256 * 1024
    /// Connections accepted per wake-up of the listener.
    static let acceptsPerWakeMax = 256
    /// How often the event loop checks deadlines: handshakes, idle clients, stalled replies.
    static let sweepIntervalMillis = 100
    /// Connections open at once from one source address (loopback is no exception).
    static let connectionsPerAddressMax = 128
    /// Descriptors kept free for storage (segments, hard state, snapshots), the listener,
    /// outgoing peer links and the process itself: accepting stops before they are touched.
    static let descriptorsReserved = 128
    /// The fewest connection slots a tracker will start with.
    static let connectionsMin = 32
    /// `create_user` and `login` requests one address may send at once.
    static let passwordRequestsBurst = 20
    /// `create_user` and `login` requests an address regains per second (`--password-rate`).
    static let passwordRequestsPerSecond = 5.0
    /// Addresses whose connection counts and password buckets are remembered.
    static let addressesTrackedMax = 65_536
    /// The listening socket's backlog: connections the kernel completes while the accept loop
    /// catches up, so a burst is accepted (or refused by the budget) rather than dropped unseen.
    static let listenBacklog: Int32 = 1_024
    /// Pause after a failed `accept` (e.g. EMFILE) before the next.
    static let acceptRetryMillis = 10

    /// The admission limits for a descriptor limit of `descriptorLimit`, or why it is too low.
    static func admission(descriptorLimit: Int, passwordRequestsPerSecond: Double) -> Result<AddressAdmission.Limits, LimitError> {
        let budget = min(connectionsMax, descriptorLimit - descriptorsReserved)
        guard budget >= connectionsMin else {
            return .failure(LimitError(description: "descriptor limit \(descriptorLimit) is too low: need at least \(descriptorsReserved + connectionsMin)"))
        }
        let limits = AddressAdmission.Limits(connectionsMax: budget, connectionsPerAddressMax: connectionsPerAddressMax,
                                             passwordRequestsBurst: passwordRequestsBurst,
                                             passwordRequestsPerSecond: passwordRequestsPerSecond,
                                             addressesTrackedMax: addressesTrackedMax)
        if let problem = limits.problem() { return .failure(LimitError(description: problem)) }
        return .success(limits)
    }

    /// Descriptors asked for at start: room for `connectionsMax` connections when the system
    /// allows it (a privileged process may raise its hard limit up to `fs.nr_open`).
    static let descriptorsWanted = connectionsMax + descriptorsReserved

    /// Raises the descriptor limit to `descriptorsWanted` if allowed, else the soft limit to
    /// the hard limit; returns the limit now in force.
    static func raiseDescriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1_024 }
        if limit.rlim_max < rlim_t(descriptorsWanted) {
            var raised = limit
            raised.rlim_max = rlim_t(descriptorsWanted)
            raised.rlim_cur = raised.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { return descriptorsWanted }
        }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }
}

/// The deadlines the event loop enforces on accepted connections (tests shorten them).
struct ConnectionDeadlines: Sendable {
    var handshakeMillis = ConnectionLimits.handshakeDeadlineMillis
    var clientIdleMillis = ConnectionLimits.clientIdleTimeoutMillis
    var replyStallMillis = ConnectionLimits.replyStallMillisMax
}

/// A limit that cannot be met at start.
struct LimitError: Error, CustomStringConvertible {
    var description: String
}
