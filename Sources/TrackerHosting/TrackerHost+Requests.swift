import Consensus
import TrackerProtocol
import TrackerStateMachine

extension TrackerHost {
    /// What a tracker that is not the leader answers: where the leader is, or that none is known.
    /// A follower that has not heard its leader for `silentLeaderHeartbeats` heartbeats says
    /// there is none: sending a client to a leader that went silent costs the client a timeout
    /// on a dead connection, while "no leader" makes it try again shortly, by when one of the
    /// others may have been elected.
    var notLeaderResponse: ClientResponse {
        let leader = raft.leader
        let silenceTicks = raft.config.heartbeatTicks * TrackerHost.silentLeaderHeartbeats
        guard raft.role == .leader || raft.hasHeardLeader(withinTicks: silenceTicks) else { return .noLeader }
        if leader != 0, leader != raft.config.id, let address = address(of: leader) {
            return .redirect(leader: leader, address: address)
        }
        return .noLeader
    }

    mutating func reply(_ target: ReplyTarget, _ response: ClientResponse) {
        replies.append(Reply(target: target, response: response))
    }

    /// The hash of the request's session token, once the session is known to exist (and, when
    /// `certificate` is not nil, its TLS connection presented the session's certificate); answers
    /// and returns nil otherwise, so nothing without a session reaches the log. "Not logged
    /// in" is said only by a leader that has committed in its term and applied everything it
    /// committed (it then knows every session a client was told about); before that, "retry
    /// later".
    mutating func sessionHash(_ request: ClientRequest, _ target: ReplyTarget, certificate: [UInt8]? = nil) -> TokenHash? {
        guard !request.token.isEmpty, request.token.count <= ServiceCodec.tokenBytesMax else {
            reply(target, .result(.failure(.notLoggedIn)))
            return nil
        }
        let hash = hashToken(request.token)
        if case let .ok(.session(session)) = machine.query(.session(tokenHash: hash)) {
            return refusesCertificate(of: session, certificate, target) ? nil : hash
        }
        guard raft.hasCommittedInTerm, raft.appliedIndex == raft.commitIndex else {
            reply(target, .retryLater(reason: "the new leader is catching up"))
            return nil
        }
        counters.refusedUnknownSession += 1
        reply(target, .result(.failure(.notLoggedIn)))
        return nil
    }

    /// Over TLS (`certificate` not nil) a session's token is honored only from the certificate
    /// the session logged in with: a token copied to another key is refused, answered and
    /// counted here (the shell logs the count, never the token). Returns whether it refused.
    mutating func refusesCertificate(of session: SessionInfo, _ certificate: [UInt8]?, _ target: ReplyTarget) -> Bool {
        guard let certificate, certificate != session.certificateFingerprint else { return false }
        counters.refusedCertificateMismatch += 1
        reply(target, .rejected(reason: "this session belongs to another certificate"))
        return true
    }

    mutating func startJob(_ work: PasswordJob.Work, pending: PendingJob) {
        let request: ClientRequest
        switch pending {
        case let .createUser(r, _), let .login(r, _): request = r
        }
        let key = RequestKey(clientID: request.clientID, sequence: request.sequence)
        if let running = jobOfRequest[key], pendingJobs[running] != nil {
            pendingJobs[running] = pending // the retry's connection gets the answer
            return
        }
        let id = takeID()
        jobOfRequest[key] = id
        pendingJobs[id] = pending
        jobsOut.append(PasswordJob(id: id, work: work))
    }

    mutating func startRead(_ query: TrackerQuery, pending: PendingRead) {
        let id = takeID()
        do throws(ProposalError) {
            try raft.readIndex(requestID: id)
            pendingReads[id] = pending
            if case .login = pending { loginReadCount += 1 }
        } catch {
            switch pending {
            case let .query(_, target), let .login(_, target), let .keepAlive(_, target): reply(target, response(for: error))
            }
        }
    }

    mutating func propose(_ envelope: CommandEnvelope, kind: WriteKind, target: ReplyTarget?) {
        do throws(ProposalError) {
            let ticket = try raft.propose(envelope.encode())
            pendingWrites[ticket.index] = PendingWrite(term: ticket.term, target: target, kind: kind)
        } catch {
            if let target { reply(target, response(for: error)) }
        }
    }

    func response(for error: ProposalError) -> ClientResponse {
        switch error {
        case .notLeader: notLeaderResponse
        case .transferring: .retryLater(reason: "leadership transfer in progress")
        case .uncommittedBytesExceeded, .tooManyPendingReads: .retryLater(reason: "tracker overloaded")
        case .entryTooLarge: .rejected(reason: "request too large")
        }
    }

    mutating func takeID() -> UInt64 {
        defer { nextID += 1 }
        return nextID
    }
}

extension TrackerRole {
    /// The wire's name for a Raft role.
    init(_ role: Role) {
        switch role {
        case .follower: self = .follower
        case .preCandidate: self = .preCandidate
        case .candidate: self = .candidate
        case .leader: self = .leader
        }
    }
}
