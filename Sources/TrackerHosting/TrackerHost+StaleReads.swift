import TrackerProtocol
import TrackerStateMachine

/// Reads that outlive the quorum (issue 16): while this tracker knows no live leader, the
/// data-plane queries a client marked `allowsStale` (`ClientQuery.isStaleReadable`) are
/// answered at once from the applied state, marked `possiblyStale`. Nothing is proposed, no
/// ReadIndex is asked, and no lease is renewed.
///
/// * Only a full tracker that is not the leader and has not heard one for `silentLeaderHeartbeats`
///   heartbeats answers so: a follower of a live leader still redirects, and a leader still
///   reads linearizably (or steps down by check-quorum, and then answers stale).
/// * The caller's session must be in the applied state. Lease times are not judged: renewals
///   live only in the memory of the leader that took them, and the leader's clock is not this
///   tracker's; a new leader would give every session a full lease anyway. A session that was
///   logged out or expired by a committed entry is gone from the applied state and refused.
/// * Group membership is checked by the state machine's query, against the same applied state.
extension TrackerHost {
    /// Whether `request` gets a possibly stale answer here instead of the usual path.
    func answersStale(_ request: ClientRequest) -> Bool {
        guard request.allowsStale, case let .query(query) = request.operation, query.isStaleReadable else { return false }
        // A witness holds no state to answer from.
        guard raft.role != .leader, raft.memberRole != .witness else { return false }
        let silenceTicks = raft.config.heartbeatTicks * TrackerHost.silentLeaderHeartbeats
        return !raft.hasHeardLeader(withinTicks: silenceTicks)
    }

    /// Answers a stale-readable query from the applied state.
    mutating func answerStale(_ request: ClientRequest, replyTo target: ReplyTarget, certificate: [UInt8]? = nil) {
        guard case let .query(query) = request.operation else { return }
        guard !request.token.isEmpty, request.token.count <= ServiceCodec.tokenBytesMax else {
            return reply(target, .result(.failure(.notLoggedIn)))
        }
        let hash = hashToken(request.token)
        guard case let .ok(.session(session)) = machine.query(.session(tokenHash: hash)) else {
            // This tracker may be behind the login: not "not logged in", which ends a session.
            return reply(target, .retryLater(reason: "no leader, and this tracker does not know the session"))
        }
        guard !refusesCertificate(of: session, certificate, target) else { return }
        counters.staleReadsAnswered += 1
        let mark = StaleMark(tracker: raft.config.id, appliedIndex: raft.appliedIndex)
        reply(target, .possiblyStale(machine.query(TrackerQuery.bind(query, to: hash)), mark))
    }
}
