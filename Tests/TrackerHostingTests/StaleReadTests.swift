import Consensus
import Testing
import TrackerProtocol
import TrackerStateMachine

/// Issue 16: without a quorum, a tracker answers the data plane from its applied state, marked.
@Suite("Reads that outlive the quorum")
struct StaleReadTests {
    static let metadata = FileMetadata(name: "f", sizeBytes: 10, pieceSizeBytes: 512 * 1024,
                                       pieceHashes: [UInt8](repeating: 1, count: 20), fileHash: [UInt8](repeating: 2, count: 20))

    /// A cluster where alice owns group g and shares f, and bob is logged in but no member.
    struct Setup {
        var cluster = HostCluster()
        var leader: NodeID = 0
        var alice: [UInt8] = []
        var bob: [UInt8] = []

        init() throws {
            leader = cluster.electLeader()
            alice = try TrackerHostTests().loggedIn(&cluster, user: "alice", clientID: 7)
            bob = try TrackerHostTests().loggedIn(&cluster, user: "bob", clientID: 8)
            for (sequence, command) in [ClientCommand.createGroup(groupID: "g"), .uploadFile(groupID: "g", metadata: StaleReadTests.metadata)].enumerated() {
                let answer = cluster.send(ClientRequest(clientID: 7, sequence: UInt64(3 + sequence), token: alice, operation: .command(command)), to: leader)
                #expect(answer == .result(.ok(.done)), "\(command)")
            }
            cluster.tick(5) // every follower applies it
        }

        var follower: NodeID { cluster.ids.first { $0 != leader }! }

        /// Cuts every tracker off from every other, and waits until none knows a leader.
        mutating func loseQuorum() {
            cluster.isolated = Set(cluster.ids)
            var ticks = 0
            while cluster.ids.contains(where: { cluster.hosts[$0]!.raft.role == .leader }) || ticks < 20, ticks < 500 {
                cluster.tick(1)
                ticks += 1
            }
        }

        mutating func ask(_ query: ClientQuery, token: [UInt8], to id: NodeID, allowsStale: Bool = true, sequence: UInt64 = 50) -> ClientResponse? {
            cluster.send(ClientRequest(clientID: 9, sequence: sequence, token: token, operation: .query(query), allowsStale: allowsStale), to: id)
        }
    }

    static let files = TrackerResult.ok(.files(Page(items: [FileSummary(name: "f", sizeBytes: 10, onlineSharerCount: 1)])))

    @Test("with a leader, a stale-allowing read is linearizable at the leader and redirected by a follower: no mark")
    func quorumStaysLinearizable() throws {
        var s = try Setup()
        #expect(s.ask(.listFiles(groupID: "g"), token: s.alice, to: s.leader) == .result(Self.files))
        #expect(s.ask(.listFiles(groupID: "g"), token: s.alice, to: s.follower) == .redirect(leader: s.leader, address: "127.0.0.1:\(7000 + s.leader)"))
        #expect(s.cluster.hosts.values.allSatisfy { $0.counters.staleReadsAnswered == 0 })
    }

    @Test("without a quorum, list_files, download info and the member check are answered from the applied state, marked")
    func noQuorumAnswersStale() throws {
        var s = try Setup()
        s.loseQuorum()
        let survivor = s.follower
        let applied = s.cluster.hosts[survivor]!.raft.appliedIndex
        let mark = StaleMark(tracker: survivor, appliedIndex: applied)
        #expect(s.ask(.listFiles(groupID: "g"), token: s.alice, to: survivor) == .possiblyStale(Self.files, mark))
        guard case let .possiblyStale(.ok(.download(info)), got)? = s.ask(.downloadInfo(groupID: "g", fileName: "f"), token: s.alice, to: survivor) else {
            Issue.record("no stale download info")
            return
        }
        #expect(got == mark && info.metadata == Self.metadata && info.peers.isEmpty, "alice is the only sharer, and never her own peer")
        guard case let .possiblyStale(.ok(.session(session)), _)? = s.ask(.memberSession(groupID: "g", userID: "alice"), token: s.alice, to: survivor) else {
            Issue.record("no stale member session")
            return
        }
        #expect(session.userID == "alice")
        // Without the flag, the answer is the usual one.
        #expect(s.ask(.listFiles(groupID: "g"), token: s.alice, to: survivor, allowsStale: false) == .noLeader)
        // The leader that lost check-quorum stepped down, and answers stale too.
        guard case .possiblyStale(Self.files, _)? = s.ask(.listFiles(groupID: "g"), token: s.alice, to: s.leader) else {
            Issue.record("the deposed leader did not answer stale")
            return
        }
    }

    @Test("without a quorum, a non-member and an unknown session are refused even stale")
    func staleChecksMembershipAndSession() throws {
        var s = try Setup()
        s.loseQuorum()
        let survivor = s.follower
        guard case let .possiblyStale(.failed(error), _)? = s.ask(.listFiles(groupID: "g"), token: s.bob, to: survivor) else {
            Issue.record("bob was not refused")
            return
        }
        #expect(error.code == .notMember)
        guard case let .possiblyStale(.failed(other), _)? = s.ask(.downloadInfo(groupID: "g", fileName: "f"), token: s.bob, to: survivor) else {
            Issue.record("bob was not refused")
            return
        }
        #expect(other.code == .notMember)
        let unknown = s.ask(.listFiles(groupID: "g"), token: [UInt8](repeating: 0x77, count: 16), to: survivor)
        guard case .retryLater? = unknown else {
            Issue.record("an unknown session got \(String(describing: unknown))")
            return
        }
    }

    @Test("without a quorum, writes, logins, list_requests and list_groups still wait for a leader")
    func writesWaitForQuorum() throws {
        var s = try Setup()
        s.loseQuorum()
        let survivor = s.follower
        let write = ClientRequest(clientID: 7, sequence: 60, token: s.alice, operation: .command(.createGroup(groupID: "h")), allowsStale: true)
        #expect(s.cluster.send(write, to: survivor) == .noLeader)
        let login = ClientRequest(clientID: 7, sequence: 61, operation: .login(userID: "alice", password: "pw-alice", peerAddress: "127.0.0.1:1"), allowsStale: true)
        #expect(s.cluster.send(login, to: survivor) == .noLeader)
        #expect(s.ask(.listRequests(groupID: "g"), token: s.alice, to: survivor) == .noLeader)
        #expect(s.ask(.listGroups(), token: s.alice, to: survivor) == .noLeader)
        #expect(s.ask(.session, token: s.alice, to: survivor) == .noLeader)
        #expect(s.cluster.hosts[survivor]!.counters.staleReadsAnswered == 0)
    }
}
