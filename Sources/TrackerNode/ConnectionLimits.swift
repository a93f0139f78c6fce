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
    /// How often the reply writer retries connections whose socket buffers were full.
    static let replyRetryMillis = 5
    /// Connections open at once (each has a thread); lowered to fit the descriptor limit.
    static let connectionsMax = 4_096
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
    /// How long one blocking send on an accepted connection may stall (handshake frames,
    /// snapshot resume answers); client replies never block.
    static let acceptedSendTimeoutMillis = 5_000
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

    /// Raises the soft descriptor limit to the hard limit; returns the limit now in force.
    static func raiseDescriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1_024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }
}

/// A limit that cannot be met at start.
struct LimitError: Error, CustomStringConvertible {
    var description: String
}
