import Consensus
import TrackerProtocol
import TrackerStateMachine

extension TrackerHost {
    /// Whether `ready()` has work for the shell.
    public var hasReady: Bool {
        batchInFlight == nil && (raft.hasReady || !replies.isEmpty || !jobsOut.isEmpty || snapshotJobOut != nil)
    }

    /// Takes the next batch. The shell carries it out in order, then calls `advance()`.
    public mutating func ready() -> HostBatch {
        precondition(batchInFlight == nil, "ready() twice without advance()")
        let isFromRaft = raft.hasReady
        var rd = isFromRaft ? raft.ready() : Ready()
        batchInFlight = (rd, isFromRaft)
        for i in rd.messages.indices where rd.messages[i].kind == .installSnapshot {
            rd.messages[i].snapshot = latestSnapshot // the core names the snapshot; the host has its bytes
        }
        let batch = HostBatch(raft: rd, replies: replies, passwordJobs: jobsOut, snapshotJob: snapshotJobOut)
        replies.removeAll()
        jobsOut.removeAll()
        snapshotJobOut = nil
        return batch
    }

    /// Acknowledges the batch: applies its committed entries to the state machine, serves the
    /// reads that are now safe, and returns the replies that became ready.
    public mutating func advance() -> [Reply] {
        guard let (rd, isFromRaft) = batchInFlight else { preconditionFailure("advance() without ready()") }
        batchInFlight = nil
        if let snapshot = rd.snapshot {
            // `receive` keeps only the state of the snapshot Raft accepted, so the two agree.
            guard let received = receivedMachine,
                  received.meta == snapshot.meta || options.plantedBug == .installAnySnapshot else {
                preconditionFailure("installed snapshot \(snapshot.meta) was not the one restored")
            }
            machine = received.machine
            receivedMachine = nil
            latestSnapshot = snapshot
            // Proposals whose entries the snapshot covers are never applied one by one here:
            // their clients retry (with the same sequence) on the leader.
            for index in pendingWrites.keys.sorted() where index <= snapshot.meta.index {
                if let target = pendingWrites.removeValue(forKey: index)?.target { reply(target, notLeaderResponse) }
            }
            appliedBytesSinceSnapshot = 0
        }
        receivedMachine = nil // a snapshot not installed (behind the commit index, or matching the log)
        for entry in rd.committedEntries { apply(entry) }
        if isFromRaft { raft.advance() }
        for id in rd.droppedReads {
            if let read = pendingReads.removeValue(forKey: id) { answerNotLeader(read) }
        }
        for state in rd.readStates {
            if let read = pendingReads.removeValue(forKey: state.requestID) { confirmedReads.append((state.index, read)) }
        }
        serveConfirmedReads()
        if raft.role != .leader {
            failPendingJobs()
            failPendingWrites()
        }
        maybeStartSnapshot()
        defer { replies.removeAll() }
        return replies
    }

    /// Asks the shell for a snapshot once enough entries were applied since the last one.
    mutating func maybeStartSnapshot() {
        let applied = raft.appliedIndex
        let logBytesWanted = Double(latestSnapshot?.data.count ?? 0) * options.snapshotLogBytesRatio
        guard !isSnapshotInProgress, applied >= (latestSnapshot?.meta.index ?? 0) + options.snapshotThresholdEntries,
              Double(appliedBytesSinceSnapshot) >= logBytesWanted, let meta = raft.snapshotMeta(at: applied) else { return }
        isSnapshotInProgress = true
        snapshotJobOut = SnapshotJob(meta: meta, machine: machine) // the meta carries the configuration
    }

    /// Applies one committed entry and answers the request that proposed it, if it was ours.
    mutating func apply(_ entry: Entry) {
        appliedBytesSinceSnapshot += entry.sizeBytes
        let result: TrackerResult? = entry.kind == .normal ? machine.apply(encoded: entry.data) : nil
        guard let pending = pendingWrites.removeValue(forKey: entry.index), let target = pending.target else { return }
        if case .configuration = pending.kind, pending.term == entry.term {
            return reply(target, .status(status)) // the change committed: the new configuration
        }
        guard pending.term == entry.term, let result else {
            // Another leader's entry took this index: ours was lost. The client retries with
            // the same sequence, so it cannot be applied twice.
            reply(target, notLeaderResponse)
            return
        }
        switch pending.kind {
        case let .login(token):
            answerLogin(token: token, result: result, target: target)
        case .plain, .leaderOwn, .configuration:
            reply(target, .result(result))
        }
    }

    /// A login applied. The client chose the token and every retry carries the same one, so a
    /// result answered from the exactly-once cache (an earlier attempt committed and its answer
    /// was lost) is this token's session: the answer is the login as it took effect, even if a
    /// later login of the same user has ended that session since (linearizable: the login
    /// happened first; the client learns the session ended at its next request).
    mutating func answerLogin(token: [UInt8], result: TrackerResult, target: ReplyTarget) {
        guard case let .ok(.session(session)) = result else {
            reply(target, .result(result))
            return
        }
        reply(target, .loggedIn(token: token, session: session))
    }

    /// Serves confirmed reads whose index the state machine has reached.
    mutating func serveConfirmedReads() {
        let applied = raft.appliedIndex
        var waiting: [(index: UInt64, read: PendingRead)] = []
        for (index, read) in confirmedReads {
            guard index <= applied else {
                waiting.append((index, read))
                continue
            }
            switch read {
            case let .query(query, target):
                reply(target, .result(machine.query(query)))
            case let .keepAlive(tokenHash, target):
                renewLease(tokenHash, target: target)
            case let .login(request, target):
                loginReadCount -= 1
                continueLogin(request, target: target)
            }
        }
        confirmedReads = waiting
    }

    /// The credentials are read (linearizably): check the password off the Raft path. A retry
    /// of a login that already committed (its answer was lost) finds the session its token
    /// opened and is answered at once, without hashing the password again.
    mutating func continueLogin(_ request: ClientRequest, target: ReplyTarget) {
        guard case let .login(userID, password, peerAddress, fingerprint) = request.operation else { return }
        if case let .ok(.session(session)) = machine.query(.session(tokenHash: hashToken(request.token))),
           session.userID == userID, session.peerAddress == peerAddress, session.certificateFingerprint == fingerprint {
            counters.loginsAnsweredFromSession += 1
            reply(target, .loggedIn(token: request.token, session: session))
            return
        }
        switch machine.query(.credentials(userID: userID)) {
        case let .ok(.credentials(salt, passwordHash)):
            startJob(.verify(password: password, salt: salt, passwordHash: passwordHash), pending: .login(request, target))
        case .ok, .failed:
            // Do not tell a stranger which user ids exist.
            reply(target, .rejected(reason: "wrong user id or password"))
        }
    }

    /// A tracker that lost leadership answers every write it still waits for: the entry may
    /// yet commit under the next leader (the client's retry, with the same sequence, is then
    /// answered from the exactly-once table) or be overwritten; either way the client asks
    /// the new leader at once instead of waiting out its timeout here.
    mutating func failPendingWrites() {
        guard !pendingWrites.isEmpty else { return }
        for index in pendingWrites.keys.sorted() {
            if let target = pendingWrites.removeValue(forKey: index)?.target { reply(target, notLeaderResponse) }
        }
    }

    mutating func failPendingJobs() {
        for (_, job) in pendingJobs.sorted(by: { $0.key < $1.key }) {
            switch job {
            case let .createUser(_, target), let .login(_, target): reply(target, notLeaderResponse)
            }
        }
        pendingJobs.removeAll()
        jobOfRequest.removeAll()
    }

    /// A keepalive whose read confirmed this leader: the session's lease is renewed in memory
    /// and the client told until when.
    mutating func renewLease(_ tokenHash: TokenHash, target: ReplyTarget) {
        guard raft.role == .leader, case let .ok(.session(session)) = machine.query(.session(tokenHash: tokenHash)) else {
            reply(target, .result(.failure(.notLoggedIn)))
            return
        }
        let (until, overflow) = nowMillis.addingReportingOverflow(options.limits.sessionLeaseMillis)
        let expiry = max(leases[tokenHash] ?? 0, overflow ? .max : until)
        leases[tokenHash] = expiry
        reply(target, .result(.ok(.session(SessionInfo(userID: session.userID, peerAddress: session.peerAddress, leaseExpiryMillis: expiry)))))
    }

    mutating func answerNotLeader(_ read: PendingRead) {
        switch read {
        case let .query(_, target), let .keepAlive(_, target):
            reply(target, notLeaderResponse)
        case let .login(_, target):
            loginReadCount -= 1
            reply(target, notLeaderResponse)
        }
    }
}
