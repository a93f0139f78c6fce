import Consensus
import Testing
@testable import TrackerHosting
import TrackerProtocol
import TrackerStateMachine

/// The findings of the executor review, each as a scenario on the production executor and
/// host: every test here failed before its fix.
@Suite("Executor and host findings")
struct ExecutorFindingsTests {
    /// `count` committed createUser entries from index `first`, in `term`.
    static func userEntries(from first: UInt64, count: Int, term: UInt64) -> [Entry] {
        (0..<count).map { offset in
            let index = first + UInt64(offset)
            let command = TrackerCommand.createUser(userID: "u\(index)", salt: [UInt8](repeating: 1, count: 8),
                                                    passwordHash: fakeHash("pw", salt: [UInt8](repeating: 1, count: 8)))
            return Entry(term: term, index: index, data: CommandEnvelope(clientID: 0, sequence: 0, command: command).encode())
        }
    }

    /// The state after applying the user entries 1...`through`, and its snapshot.
    static func snapshot(through index: UInt64, term: UInt64) -> (machine: TrackerStateMachine, snapshot: Snapshot) {
        var machine = TrackerStateMachine()
        for entry in userEntries(from: 1, count: Int(index), term: term) { _ = machine.apply(encoded: entry.data) }
        return (machine, Snapshot(meta: SnapshotMeta(index: index, term: term), data: machine.snapshot()))
    }

    /// A follower (id 3 of three) that knows nothing yet, and its effects.
    static func follower(snapshotThreshold: UInt64 = 10_000) throws -> (HostExecutor, MemoryEffects) {
        var options = HostOptions()
        options.snapshotThresholdEntries = snapshotThreshold
        options.retainedEntries = 0
        var config = RaftConfig(id: 3, peers: [1, 2, 3])
        config.randomSeed = 3
        let host = try TrackerHost(raftConfig: config, persisted: PersistedState(), options: options, hashToken: fakeTokenHash)
        return (HostExecutor(host: host), MemoryEffects(storage: MemoryStorage()))
    }

    @Test("finding 1: a stale snapshot (an old leader's) arriving in the same window as the new leader's never replaces the state Raft installs")
    func staleSnapshotInSameWindow() throws {
        var (executor, effects) = try Self.follower()
        let accepted = Self.snapshot(through: 35, term: 3)
        let stale = Self.snapshot(through: 40, term: 2)
        try executor.handle(.raft(Message(kind: .installSnapshot, from: 2, to: 3, term: 3, snapshot: accepted.snapshot), restored: nil), effects: &effects)
        try executor.handle(.raft(Message(kind: .installSnapshot, from: 1, to: 3, term: 2, snapshot: stale.snapshot), restored: nil), effects: &effects)
        try executor.drain(effects: &effects)
        #expect(executor.host.raft.appliedIndex == 35)
        #expect(executor.host.machine == accepted.machine, "the state is the snapshot Raft accepted, not the stale one")
        #expect(executor.host.counters.snapshotsDroppedByRaft == 1)
        // The entries after the snapshot apply once: the replica ends where the leader is.
        let next = Self.userEntries(from: 36, count: 5, term: 3)
        try executor.handle(.raft(Message(kind: .appendEntries, from: 2, to: 3, term: 3, logTerm: 3, index: 35, entries: next, commit: 40), restored: nil),
                            effects: &effects)
        try executor.drain(effects: &effects)
        #expect(executor.host.machine == Self.snapshot(through: 40, term: 3).machine)
    }

    @Test("finding 2: a local snapshot job that finishes after a newer snapshot was installed is ignored, not a trap")
    func snapshotJobFinishingAfterInstall() throws {
        var (executor, effects) = try Self.follower(snapshotThreshold: 10)
        let entries = Self.userEntries(from: 1, count: 12, term: 1)
        try executor.handle(.raft(Message(kind: .appendEntries, from: 1, to: 3, term: 1, logTerm: 0, index: 0, entries: entries, commit: 12), restored: nil),
                            effects: &effects)
        try executor.drain(effects: &effects)
        let job = try #require(effects.snapshotJobs.first, "the follower asked for a snapshot of its 12 applied entries")
        #expect(job.meta.index == 12)
        // While the job runs, the leader sends a newer snapshot, which is installed.
        let newer = Self.snapshot(through: 30, term: 2)
        try executor.handle(.raft(Message(kind: .installSnapshot, from: 2, to: 3, term: 2, snapshot: newer.snapshot), restored: nil), effects: &effects)
        try executor.drain(effects: &effects)
        #expect(executor.host.raft.snapshotMeta == newer.snapshot.meta)
        #expect(executor.host.counters.snapshotsInstalledDuringJob == 1)
        // Now the old job's result arrives.
        try executor.handle(.snapshotWritten(Snapshot(meta: job.meta, data: job.machine.snapshot())), effects: &effects)
        #expect(executor.counters.snapshotJobsStale == 1)
        #expect(executor.host.raft.snapshotMeta == newer.snapshot.meta)
        #expect(executor.host.latestSnapshot?.meta == newer.snapshot.meta, "followers are still sent the newest snapshot")
        #expect(executor.host.machine == newer.machine)
        executor.host.raft.checkInvariants()
    }

    @Test("finding 4: a login whose answer was lost after it committed is answered, on retry with the same request, with its own session and without hashing again")
    func loginAnswerLost() throws {
        var cluster = HostCluster()
        let leader = cluster.electLeader()
        _ = cluster.send(ClientRequest(clientID: 5, sequence: 1, operation: .createUser(userID: "dora", password: "pw")), to: leader)
        let token = [UInt8](repeating: 0x42, count: 16)
        let login = ClientRequest(clientID: 5, sequence: 2, token: token, operation: .login(userID: "dora", password: "pw", peerAddress: "127.0.0.1:9"))
        _ = cluster.send(login, to: leader, connection: 1) // committed; pretend the answer was lost
        let jobs = cluster.passwordJobCount
        let retry = cluster.send(login, to: leader, connection: 2)
        guard case let .loggedIn(again, session) = retry else {
            Issue.record("the retry was not logged in: \(String(describing: retry))")
            return
        }
        #expect(again == token && session.userID == "dora")
        #expect(cluster.passwordJobCount == jobs, "no second password check")
        #expect(cluster.hosts[leader]!.machine.state.sessionCount == 1)
        // The same after a failover: the new leader finds the session the token opened.
        cluster.isolated = [leader]
        cluster.tick(80)
        let newLeader = try #require(cluster.ids.first { $0 != leader && cluster.hosts[$0]!.raft.role == .leader })
        let afterFailover = cluster.send(login, to: newLeader, connection: 3)
        guard case let .loggedIn(third, _) = afterFailover else {
            Issue.record("the retry after a failover was not logged in: \(String(describing: afterFailover))")
            return
        }
        #expect(third == token)
        #expect(cluster.passwordJobCount == jobs)
    }

    @Test("a command with a token no session has is refused before it reaches the log")
    func unknownTokenNeverProposed() throws {
        var cluster = HostCluster()
        let leader = cluster.electLeader()
        let lastIndex = cluster.hosts[leader]!.raft.lastIndex
        let bogus = ClientRequest(clientID: 9, sequence: 1, token: [UInt8](repeating: 7, count: 32),
                                  operation: .command(.createGroup(groupID: "g")))
        #expect(cluster.send(bogus, to: leader) == .result(.failure(.notLoggedIn)))
        #expect(cluster.hosts[leader]!.raft.lastIndex == lastIndex, "nothing was proposed")
        #expect(cluster.hosts[leader]!.counters.refusedUnknownSession == 1)
    }

    @Test("password work has its own admission: when it is full, logins wait and commands still get in")
    func passwordAdmissionIsSeparate() throws {
        var cluster = HostCluster()
        let leader = cluster.electLeader()
        let token = [UInt8](repeating: 1, count: 16)
        _ = cluster.send(ClientRequest(clientID: 1, sequence: 1, operation: .createUser(userID: "erin", password: "pw")), to: leader)
        guard case .loggedIn = cluster.send(ClientRequest(clientID: 1, sequence: 2, token: token,
                                                          operation: .login(userID: "erin", password: "pw", peerAddress: "127.0.0.1:1")), to: leader) else {
            Issue.record("login failed")
            return
        }
        // Fill the password admission without letting any job finish.
        let max = cluster.hosts[leader]!.options.passwordRequestsMax
        for n in 0..<max {
            cluster.submit(ClientRequest(clientID: 100 + UInt64(n), sequence: 1, operation: .createUser(userID: "flood\(n)", password: "pw")),
                           to: leader, replyTo: ReplyTarget(connection: 50, tag: UInt64(n)))
        }
        let overflow = ReplyTarget(connection: 51, tag: 1)
        cluster.submit(ClientRequest(clientID: 99, sequence: 1, operation: .createUser(userID: "late", password: "pw")), to: leader, replyTo: overflow)
        let command = ReplyTarget(connection: 52, tag: 1)
        cluster.submit(ClientRequest(clientID: 1, sequence: 3, token: token, operation: .command(.keepAlive)),
                       to: leader, replyTo: command)
        cluster.settle()
        #expect(cluster.replies[overflow] == .retryLater(reason: "too many logins and new users in progress"))
        guard case .result(.ok) = cluster.replies[command] else {
            Issue.record("the keepalive did not get in: \(String(describing: cluster.replies[command]))")
            return
        }
    }
}
