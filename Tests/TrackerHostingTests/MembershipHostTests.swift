import Consensus
import Testing
import TrackerHosting
import TrackerProtocol

@Suite("Tracker host: membership")
struct MembershipHostTests {
    static let target = ReplyTarget(connection: 9, tag: 1)

    /// Gives tracker `id` an admin request, settles, and returns its answer.
    static func admin(_ cluster: inout HostCluster, _ request: AdminRequest, to id: NodeID, tag: UInt64 = 1) -> ClientResponse? {
        let target = ReplyTarget(connection: 9, tag: tag)
        cluster.replies[target] = nil
        cluster.give(.admin(request, target), to: id)
        cluster.settle()
        return cluster.replies[target]
    }

    @Test("a change is answered once it commits, with the configuration it made; a follower redirects; a refusal gives its reason")
    func changeAnsweredAfterCommit() throws {
        var cluster = HostCluster()
        let leader = cluster.electLeader()
        cluster.tick(5)
        let follower = cluster.ids.first { $0 != leader }!
        #expect(Self.admin(&cluster, .change(.addLearner(id: 4, address: "127.0.0.1:7004")), to: follower)
                == .redirect(leader: leader, address: "127.0.0.1:\(7000 + leader)"))
        guard case let .status(status) = Self.admin(&cluster, .change(.addLearner(id: 4, address: "127.0.0.1:7004")), to: leader) else {
            Issue.record("no status answer")
            return
        }
        #expect(status.members.map(\.id) == [1, 2, 3, 4])
        #expect(status.members.last == TrackerStatus.Member(id: 4, address: "127.0.0.1:7004", role: .learner))
        let host = try #require(cluster.hosts[leader])
        #expect(host.raft.commitIndex >= host.raft.configurationIndex && host.raft.configurationIndex > 0, "answered only once committed")
        #expect(Self.admin(&cluster, .change(.remove(id: 9)), to: leader) == .rejected(reason: "not a member"))
        #expect(Self.admin(&cluster, .change(.addLearner(id: 4, address: "x:1")), to: leader) == .rejected(reason: "already a member"))
        // Everyone's status lists the configuration in force.
        guard case let .status(seen)? = Self.admin(&cluster, .list, to: follower) else {
            Issue.record("no list answer")
            return
        }
        #expect(seen.members.map(\.role) == [.voter, .voter, .voter, .learner])
    }

    @Test("no answer while the change cannot commit (the followers are cut off); the answer comes with the commit")
    func noAnswerBeforeCommit() throws {
        var cluster = HostCluster()
        let leader = cluster.electLeader()
        cluster.tick(5)
        for id in cluster.ids where id != leader { cluster.isolated.insert(id) }
        #expect(Self.admin(&cluster, .change(.addLearner(id: 4, address: "h:4")), to: leader) == nil)
        cluster.isolated.removeAll()
        cluster.tick(10)
        guard case let .status(status)? = cluster.replies[Self.target] else {
            Issue.record("no answer after the heal: \(String(describing: cluster.replies[Self.target]))")
            return
        }
        #expect(status.members.map(\.id) == [1, 2, 3, 4])
    }

    @Test("a second change while one is uncommitted is told to retry later; removing the leader hands leadership over first")
    func oneAtATimeAndLeaderRemoval() throws {
        var cluster = HostCluster()
        let leader = cluster.electLeader()
        cluster.tick(5)
        let first = ReplyTarget(connection: 9, tag: 1), second = ReplyTarget(connection: 9, tag: 2)
        cluster.give(.admin(.change(.addLearner(id: 4, address: "h:4")), first), to: leader)
        cluster.give(.admin(.change(.addLearner(id: 5, address: "h:5")), second), to: leader)
        cluster.settle()
        #expect(cluster.replies[second] == .retryLater(reason: "a configuration change is in progress"))
        guard case .status = cluster.replies[first] else {
            Issue.record("the first change was not answered")
            return
        }
        let answer = Self.admin(&cluster, .change(.remove(id: leader)), to: leader, tag: 3)
        guard case let .retryLater(reason)? = answer else {
            Issue.record("removing the leader answered \(String(describing: answer))")
            return
        }
        #expect(reason.hasPrefix("handing leadership to tracker"))
        cluster.tick(30)
        let next = try #require(cluster.leader)
        #expect(next != leader)
        guard case let .status(status)? = Self.admin(&cluster, .change(.remove(id: leader)), to: next, tag: 4) else {
            Issue.record("the new leader did not remove the old one")
            return
        }
        #expect(!status.members.map(\.id).contains(leader))
    }

    @Test("the leader pins each member's incarnation once it has answered, one change at a time, then stops")
    func leaderPinsIncarnations() throws {
        var cluster = HostCluster(incarnations: true)
        let leader = cluster.electLeader()
        cluster.tick(40)
        for id in cluster.ids {
            #expect(cluster.hosts[id]!.raft.configuration.members.map(\.incarnation) == [101, 102, 103], "tracker \(id)")
        }
        #expect(cluster.hosts[leader]!.counters.membershipChangesProposed == 3)
        cluster.tick(40)
        #expect(cluster.hosts[leader]!.counters.membershipChangesProposed == 3, "nothing left to pin")
    }

    @Test("snapshots the host takes carry the configuration in force at their index")
    func snapshotsCarryConfiguration() throws {
        var cluster = HostCluster(snapshotThreshold: 5, retained: 1)
        let leader = cluster.electLeader()
        cluster.tick(5)
        _ = Self.admin(&cluster, .change(.addLearner(id: 4, address: "h:4")), to: leader)
        for i in 0..<8 {
            _ = cluster.send(ClientRequest(clientID: 1, sequence: UInt64(i + 1), token: [], operation: .createUser(userID: "u\(i)", password: "pw")), to: leader)
        }
        let snapshot = try #require(cluster.hosts[leader]!.latestSnapshot)
        #expect(snapshot.meta.configuration?.member(4)?.role == .learner)
        #expect(snapshot.meta.configuration?.ids == [1, 2, 3, 4])
    }
}
