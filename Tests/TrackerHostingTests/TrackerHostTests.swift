import Consensus
import Testing
@testable import TrackerHosting
import TrackerProtocol
import TrackerStateMachine

@Suite("Tracker host")
struct TrackerHostTests {
    /// Creates a user and logs in through the leader; returns the session token.
    func loggedIn(_ cluster: inout HostCluster, user: String, clientID: UInt64) throws -> [UInt8] {
        let leader = try #require(cluster.leader)
        let created = cluster.send(ClientRequest(clientID: clientID, sequence: 1, operation: .createUser(userID: user, password: "pw-\(user)")), to: leader)
        #expect(created == .result(.ok(.done)))
        let login = cluster.send(ClientRequest(clientID: clientID, sequence: 2, operation: .login(userID: user, password: "pw-\(user)", peerAddress: "127.0.0.1:9\(clientID)")), to: leader)
        guard case let .loggedIn(token, session) = login else {
            Issue.record("login failed: \(String(describing: login))")
            return []
        }
        #expect(session.userID == user)
        return token
    }

    @Test("create a user, log in, create a group and list it, through the leader")
    func happyPath() throws {
        var cluster = HostCluster()
        let leader = cluster.electLeader()
        let token = try loggedIn(&cluster, user: "alice", clientID: 7)
        let created = cluster.send(ClientRequest(clientID: 7, sequence: 3, token: token, operation: .command(.createGroup(groupID: "g1"))), to: leader)
        #expect(created == .result(.ok(.done)))
        let listed = cluster.send(ClientRequest(clientID: 7, sequence: 4, token: token, operation: .query(.listGroups())), to: leader)
        #expect(listed == .result(.ok(.groups(Page(items: [GroupSummary(groupID: "g1", ownerID: "alice", memberCount: 1)])))))
        // Every replica applied the same state.
        cluster.tick(10)
        let states = cluster.ids.map { cluster.hosts[$0]!.machine.state }
        #expect(states.allSatisfy { $0 == states[0] })
    }

    @Test("a follower redirects to the leader's address")
    func followerRedirects() {
        var cluster = HostCluster()
        let leader = cluster.electLeader()
        let follower = cluster.ids.first { $0 != leader }!
        let answer = cluster.send(ClientRequest(clientID: 1, sequence: 1, operation: .createUser(userID: "bob", password: "x")), to: follower)
        #expect(answer == .redirect(leader: leader, address: "127.0.0.1:\(7000 + leader)"))
    }

    @Test("without a leader the answer is noLeader")
    func noLeaderYet() {
        var cluster = HostCluster()
        let answer = cluster.send(ClientRequest(clientID: 1, sequence: 1, operation: .createUser(userID: "bob", password: "x")), to: 1)
        #expect(answer == .noLeader)
    }

    @Test("a wrong password and an unknown user get the same refusal")
    func wrongPassword() throws {
        var cluster = HostCluster()
        let leader = cluster.electLeader()
        _ = try loggedIn(&cluster, user: "carol", clientID: 3)
        let wrong = cluster.send(ClientRequest(clientID: 3, sequence: 3, operation: .login(userID: "carol", password: "nope", peerAddress: "127.0.0.1:1")), to: leader)
        let unknown = cluster.send(ClientRequest(clientID: 3, sequence: 4, operation: .login(userID: "nobody", password: "nope", peerAddress: "127.0.0.1:1")), to: leader)
        #expect(wrong == .rejected(reason: "wrong user id or password"))
        #expect(unknown == wrong)
    }

    @Test("a command without a token is refused as not logged in, and nothing reaches the log")
    func authorization() throws {
        var cluster = HostCluster()
        let leader = cluster.electLeader()
        let lastIndex = cluster.hosts[leader]!.raft.lastIndex
        let noToken = cluster.send(ClientRequest(clientID: 1, sequence: 1, operation: .command(.createGroup(groupID: "g"))), to: leader)
        #expect(noToken == .result(.failure(.notLoggedIn)))
        #expect(cluster.hosts[leader]!.raft.lastIndex == lastIndex)
    }

    @Test("the leader binds a client's command to the hash of the token it carried and to the leader's clock, in the log")
    func bindsAtTheLeader() throws {
        var cluster = HostCluster()
        let leader = cluster.electLeader()
        let token = try loggedIn(&cluster, user: "gus", clientID: 8)
        cluster.tick(7)
        let created = cluster.send(ClientRequest(clientID: 8, sequence: 3, token: token, operation: .command(.createGroup(groupID: "bound"))), to: leader)
        #expect(created == .result(.ok(.done)))
        let entry = try #require(try cluster.storages[leader]!.load().entries.last)
        let logged = try CommandEnvelope.decode(entry.data)
        #expect(logged == CommandEnvelope(clientID: 8, sequence: 3, command: .createGroup(tokenHash: fakeTokenHash(token), groupID: "bound")))
    }

    @Test("a retry that arrives while its password is being hashed joins that job instead of hashing again")
    func retryJoinsPasswordJob() {
        var cluster = HostCluster()
        let leader = cluster.electLeader()
        let request = ClientRequest(clientID: 3, sequence: 1, operation: .createUser(userID: "zoe", password: "pw"))
        let first = ReplyTarget(connection: 1, tag: 1), retry = ReplyTarget(connection: 2, tag: 1)
        cluster.submit(request, to: leader, replyTo: first)
        cluster.submit(request, to: leader, replyTo: retry)
        cluster.settle()
        #expect(cluster.passwordJobCount == 1)
        #expect(cluster.replies[retry] == .result(.ok(.done)))
    }

    @Test("a retried request with the same sequence is applied once and answered the same")
    func retryAppliedOnce() throws {
        var cluster = HostCluster()
        let leader = cluster.electLeader()
        let token = try loggedIn(&cluster, user: "dave", clientID: 4)
        let request = ClientRequest(clientID: 4, sequence: 3, token: token, operation: .command(.createGroup(groupID: "g")))
        let first = cluster.send(request, to: leader, connection: 1)
        let second = cluster.send(request, to: leader, connection: 2)
        #expect(first == .result(.ok(.done)))
        #expect(second == first, "a second apply would say the group exists")
    }

    @Test("sessions whose lease ran out are expired by the leader, and their token stops working")
    func leaseExpiry() throws {
        var cluster = HostCluster()
        let leader = cluster.electLeader()
        let token = try loggedIn(&cluster, user: "erin", clientID: 5)
        let lease = Limits.standard.sessionLeaseMillis
        cluster.tick(Int(lease / 10) + 300)
        #expect(cluster.hosts[leader]!.machine.state.sessionCount == 0)
        let after = cluster.send(ClientRequest(clientID: 5, sequence: 9, token: token, operation: .query(.listGroups())), to: leader)
        #expect(after == .result(.failure(.notLoggedIn)))
    }

    @Test("keepalives hold a session open past its lease")
    func keepAliveHolds() throws {
        var cluster = HostCluster()
        let leader = cluster.electLeader()
        let token = try loggedIn(&cluster, user: "fay", clientID: 6)
        let lease = Limits.standard.sessionLeaseMillis
        var sequence: UInt64 = 3
        for _ in 0..<6 {
            cluster.tick(Int(lease / 30))
            let renewed = cluster.send(ClientRequest(clientID: 6, sequence: sequence, token: token, operation: .command(.keepAlive)), to: leader)
            sequence += 1
            guard case let .result(.ok(.session(info))) = renewed else {
                Issue.record("keepalive failed: \(String(describing: renewed))")
                return
            }
            #expect(info.leaseExpiryMillis == cluster.now + lease, "renewed on the leader's clock")
        }
        #expect(cluster.hosts[leader]!.machine.state.sessionCount == 1)
    }

    @Test("a keepalive renews the lease in the leader's memory: no Raft write")
    func keepAliveWritesNothing() throws {
        var cluster = HostCluster()
        let leader = cluster.electLeader()
        let token = try loggedIn(&cluster, user: "hal", clientID: 7)
        cluster.tick(5)
        let lastIndex = cluster.hosts[leader]!.raft.lastIndex
        for sequence in UInt64(3)...12 {
            let renewed = cluster.send(ClientRequest(clientID: 7, sequence: sequence, token: token, operation: .command(.keepAlive)), to: leader)
            guard case .result(.ok(.session)) = renewed else {
                Issue.record("keepalive failed: \(String(describing: renewed))")
                return
            }
        }
        #expect(cluster.hosts[leader]!.raft.lastIndex == lastIndex, "ten keepalives, no entry")
    }

    @Test("a new leader gives every session a full lease from its start, then expires only the silent ones")
    func newLeaderGivesFullLease() throws {
        var cluster = HostCluster()
        let old = cluster.electLeader()
        let quiet = try loggedIn(&cluster, user: "ivy", clientID: 10)
        let busy = try loggedIn(&cluster, user: "jon", clientID: 11)
        let lease = Limits.standard.sessionLeaseMillis
        cluster.tick(Int(lease / 10) - 200) // both sessions near the end of their login lease
        cluster.isolated = [old]
        cluster.tick(100)
        let new = try #require(cluster.ids.first { $0 != old && cluster.hosts[$0]!.raft.role == .leader })
        let startedAt = cluster.now
        // The busy client renews against the new leader; the quiet one never does.
        var sequence: UInt64 = 3
        while cluster.now < startedAt + lease + 2_000 {
            cluster.tick(200)
            _ = cluster.send(ClientRequest(clientID: 11, sequence: sequence, token: busy, operation: .command(.keepAlive)), to: new)
            sequence += 1
            if cluster.now < startedAt + lease - 100 {
                #expect(cluster.hosts[new]!.machine.state.sessionCount == 2, "nothing expires before a full lease from the new leader's start")
            }
        }
        #expect(cluster.hosts[new]!.machine.state.sessionCount == 1, "the silent session expired")
        let gone = cluster.send(ClientRequest(clientID: 10, sequence: 9, token: quiet, operation: .query(.listGroups())), to: new)
        #expect(gone == .result(.failure(.notLoggedIn)))
    }
}

@Suite("Tracker host snapshots")
struct TrackerHostSnapshotTests {
    /// A leader with a logged-in user who created `count` groups.
    func clusterWithGroups(_ count: Int, isolatingAFollower: Bool = false) throws -> (HostCluster, NodeID) {
        var cluster = HostCluster(snapshotThreshold: 20, retained: 5)
        let leader = cluster.electLeader()
        if isolatingAFollower { cluster.isolated.insert(cluster.ids.last { $0 != leader }!) }
        let login = try #require({ () -> [UInt8]? in
            _ = cluster.send(ClientRequest(clientID: 9, sequence: 1, operation: .createUser(userID: "snap", password: "pw")), to: leader)
            if case let .loggedIn(token, _) = cluster.send(ClientRequest(clientID: 9, sequence: 2, operation: .login(userID: "snap", password: "pw", peerAddress: "127.0.0.1:1")), to: leader) { return token }
            return nil
        }())
        for i in 0..<count {
            let answer = cluster.send(ClientRequest(clientID: 9, sequence: UInt64(3 + i), token: login, operation: .command(.createGroup(groupID: "g\(i)"))), to: leader)
            #expect(answer == .result(.ok(.done)))
        }
        return (cluster, leader)
    }

    @Test("trackers snapshot every threshold entries and compact their logs; a follower cut off past the compaction point catches up by snapshot")
    func followerCatchesUpBySnapshot() throws {
        var (cluster, leader) = try clusterWithGroups(100, isolatingAFollower: true)
        let lagging = try #require(cluster.isolated.first)
        #expect(cluster.snapshotsTaken >= 4)
        #expect(cluster.hosts[leader]!.raft.term(at: 10) == nil, "the leader's log was compacted")
        cluster.isolated.removeAll()
        cluster.tick(30)
        let states = cluster.ids.map { cluster.hosts[$0]!.machine }
        #expect(states[Int(lagging) - 1].state == states[Int(leader) - 1].state)
        #expect(states[Int(lagging) - 1].state.groupCount == 100)
    }

    @Test("a restarted tracker loads its snapshot and replays only the log after it, to the same state")
    func restartFromSnapshot() throws {
        var (cluster, leader) = try clusterWithGroups(50)
        cluster.tick(10)
        let follower = cluster.ids.first { $0 != leader }!
        let before = cluster.hosts[follower]!.machine.state
        try cluster.restart(follower)
        #expect(cluster.hosts[follower]!.latestSnapshot != nil)
        cluster.tick(10)
        #expect(cluster.hosts[follower]!.machine.state == before)
    }
}
