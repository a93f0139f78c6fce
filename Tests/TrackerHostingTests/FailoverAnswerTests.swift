import Testing
@testable import TrackerHosting
import TrackerProtocol

/// What trackers answer while a leader goes silent, so a client moves on within an election
/// instead of waiting out its timeout on a dead connection.
@Suite("Answers during a failover")
struct FailoverAnswerTests {
    @Test("a follower that stops hearing its leader answers 'no leader' after two heartbeats, not a redirect to it")
    func silentLeaderIsNotNamed() throws {
        var cluster = HostCluster()
        let leader = cluster.electLeader()
        let follower = try #require(cluster.ids.first { $0 != leader })
        let request = ClientRequest(clientID: 1, sequence: 1, operation: .createUser(userID: "bob", password: "x"))
        cluster.isolated = [leader]
        cluster.tick(3)
        #expect(cluster.send(request, to: follower) == .redirect(leader: leader, address: "127.0.0.1:\(7000 + leader)"))
        // Past two heartbeats of silence, before any election timeout can have fired.
        let heartbeat = cluster.hosts[follower]!.raft.config.heartbeatTicks
        cluster.tick(heartbeat * TrackerHost.silentLeaderHeartbeats - 2)
        #expect(cluster.hosts[follower]!.raft.role == .follower)
        #expect(cluster.send(request, to: follower) == .noLeader)
    }

    @Test("a leader deposed by check-quorum answers the write it was waiting for at once")
    func deposedLeaderAnswersPendingWrites() throws {
        var cluster = HostCluster()
        let leader = cluster.electLeader()
        let token = try TrackerHostTests().loggedIn(&cluster, user: "alice", clientID: 7)
        cluster.isolated = [leader]
        let target = ReplyTarget(connection: 9, tag: 3)
        cluster.submit(ClientRequest(clientID: 7, sequence: 3, token: token, operation: .command(.createGroup(groupID: "g1"))), to: leader, replyTo: target)
        cluster.settle()
        #expect(cluster.replies[target] == nil, "it cannot commit while cut off")
        var ticks = 0
        while cluster.hosts[leader]!.raft.role == .leader, ticks < 200 {
            cluster.tick(1)
            ticks += 1
        }
        #expect(cluster.hosts[leader]!.raft.role != .leader)
        let answer = try #require(cluster.replies[target])
        switch answer {
        case .noLeader, .redirect: break
        default: Issue.record("unexpected answer \(answer)")
        }
    }
}
