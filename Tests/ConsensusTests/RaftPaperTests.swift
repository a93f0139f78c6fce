import Testing
@testable import Consensus

/// The Raft paper's rules, one test per rule, in the style of etcd raft's `raft_paper_test.go`:
/// each test is named with the rule's text and section, builds the state the rule speaks of
/// (a node from a stored state driven by hand, or a `TestNetwork` where the rule is about a
/// cluster), applies the rule's trigger and asserts the outcome whole: role, term, vote, log,
/// commit and the messages sent. Rules that the dissertation's pre-vote and check-quorum change
/// are tested with both off (`Paper.classic`, the paper's algorithm); those extensions have
/// tests of their own (+Clients). Cluster membership changes (§6) are not in this core yet.
/// Files: +Election (Figure 2 followers and candidates, RequestVote, §5.2, §5.4.1),
/// +Leader (Figure 2 leaders, §5.3), +AppendEntries (receiver rules, Figure 7, §5.5),
/// +Safety (§5.4, Figure 8, and the safety properties of Figure 3 under a seeded chaos run),
/// +Clients (§5.6, §8, dissertation §9.6).
@Suite("Raft paper")
struct RaftPaperTests {}

/// Fixtures for the paper tests.
enum Paper {
    /// The paper's algorithm: no pre-vote, no check-quorum (and so no leader lease).
    static func classic(_ config: inout RaftConfig) {
        config.isPreVoteEnabled = false
        config.isCheckQuorumEnabled = false
    }

    /// Node `id` of `peers`, started from a stored hard state and a log given as the term of each
    /// entry from index 1. The host's state machine already reflects the committed entries.
    static func node(id: NodeID = 1, peers: [NodeID] = [1, 2, 3], term: UInt64 = 0, vote: NodeID = 0,
                     commit: UInt64 = 0, log terms: [UInt64] = [],
                     configure: (inout RaftConfig) -> Void = { _ in }) -> RaftNode {
        var config = RaftConfig(id: id, peers: peers)
        config.randomSeed = id
        configure(&config)
        let persisted = PersistedState(hardState: HardState(term: term, vote: vote, commit: commit), entries: entries(terms))
        return try! RaftNode(config: config, persisted: persisted, applied: commit)
    }

    /// Entries of the given terms, numbered from `first`, without data.
    static func entries(_ terms: [UInt64], from first: UInt64 = 1) -> [Entry] {
        terms.enumerated().map { Entry(term: $1, index: first + UInt64($0)) }
    }

    /// The host carries out the node's next `Ready` (persist, send, apply) and acknowledges it.
    @discardableResult
    static func flush(_ node: inout RaftNode) -> Ready {
        let rd = node.ready()
        node.advance()
        node.checkInvariants()
        return rd
    }

    /// The term of every entry in the log, from index 1.
    static func logTerms(_ node: RaftNode) -> [UInt64] {
        node.lastIndex == 0 ? [] : (1...node.lastIndex).map { node.term(at: $0)! }
    }

    /// Node 1 elected leader of term `term + 1` by votes from a majority of `peers`, from the
    /// stored state; returns it with the `Ready` that carries its first appends.
    static func leader(peers: [NodeID] = [1, 2, 3], term: UInt64 = 0, log terms: [UInt64] = [], commit: UInt64 = 0,
                       configure: (inout RaftConfig) -> Void = { _ in }) -> (node: RaftNode, ready: Ready) {
        var n = node(peers: peers, term: term, commit: commit, log: terms, configure: configure)
        n.campaign(isTransfer: true) // straight to the real election
        flush(&n)
        for id in peers.filter({ $0 != 1 }).prefix(peers.count / 2) {
            n.step(Message(kind: .requestVoteResponse, from: id, to: 1, term: n.term))
        }
        precondition(n.role == .leader, "fixture leader not elected")
        let rd = flush(&n)
        return (n, rd)
    }

    /// A leader of term 1 in a fresh cluster whose followers all acknowledged its no-op: the
    /// no-op (index 1) is committed and every follower is replicating.
    static func steadyLeader(peers: [NodeID] = [1, 2, 3], configure: (inout RaftConfig) -> Void = { _ in }) -> RaftNode {
        var (n, _) = leader(peers: peers, configure: configure)
        for id in peers where id != 1 { n.step(Message(kind: .appendResponse, from: id, to: 1, term: n.term, index: n.lastIndex)) }
        flush(&n)
        precondition(n.commitIndex == 1, "fixture leader did not commit its no-op")
        return n
    }

    /// An AppendEntries from `from` to `to` carrying entries of `terms` after (`prevIndex`, `prevTerm`).
    static func append(from: NodeID = 2, to: NodeID = 1, term: UInt64, prevIndex: UInt64, prevTerm: UInt64,
                       terms: [UInt64] = [], commit: UInt64 = 0) -> Message {
        Message(kind: .appendEntries, from: from, to: to, term: term, logTerm: prevTerm, index: prevIndex,
                entries: entries(terms, from: prevIndex + 1), commit: commit)
    }

    /// The follower's acceptance of `m`, an append: it now matches through the last entry sent.
    static func accept(_ m: Message) -> Message {
        Message(kind: .appendResponse, from: m.to, to: m.from, term: m.term, index: m.index + UInt64(m.entries.count))
    }
}

/// What Figure 2 names as a server's state (plus its role and known leader), compared whole.
struct ServerState: Equatable, CustomStringConvertible {
    var role: Role
    var term: UInt64
    var vote: NodeID
    var leader: NodeID
    var commit: UInt64
    var logTerms: [UInt64]

    init(role: Role, term: UInt64, vote: NodeID, leader: NodeID, commit: UInt64, logTerms: [UInt64]) {
        self.role = role
        self.term = term
        self.vote = vote
        self.leader = leader
        self.commit = commit
        self.logTerms = logTerms
    }

    init(_ node: RaftNode) {
        self.init(role: node.role, term: node.term, vote: node.vote, leader: node.leader,
                  commit: node.commitIndex, logTerms: Paper.logTerms(node))
    }

    var description: String { "\(role) term \(term) vote \(vote) leader \(leader) commit \(commit) log \(logTerms)" }
}

extension RaftPaperTests {
    @Suite("Figure 2: rules for all servers")
    struct AllServers {
        @Test("Figure 2 All servers: if commitIndex > lastApplied, increment lastApplied and apply log[lastApplied] to the state machine (§5.3)")
        func appliesCommittedInOrder() {
            var node = Paper.node(id: 2, term: 1, log: [1, 1, 1, 1, 1]) { $0.applyEntriesMax = 2 }
            // Nothing is applied before it is committed.
            node.step(Paper.append(from: 1, to: 2, term: 1, prevIndex: 5, prevTerm: 1))
            #expect(Paper.flush(&node).committedEntries.isEmpty)
            // The leader's commit index reaches 5: entries 1...5 are applied once each, in log
            // order (here at most two per batch), and lastApplied follows.
            node.step(Message(kind: .heartbeat, from: 1, to: 2, term: 1, commit: 5))
            var batches: [[UInt64]] = []
            var lastApplied: [UInt64] = []
            while node.hasReady && batches.count < 10 {
                batches.append(Paper.flush(&node).committedEntries.map(\.index))
                lastApplied.append(node.appliedIndex)
            }
            #expect(batches == [[1, 2], [3, 4], [5]])
            #expect(lastApplied == [2, 4, 5] && node.commitIndex == 5)
        }

        static let higherTermKinds: [MessageKind] = [.appendEntries, .heartbeat, .appendResponse, .requestVoteResponse]

        @Test("§5.1 All servers: if RPC request or response contains term T > currentTerm, set currentTerm = T and convert to follower",
              arguments: [Role.follower, .preCandidate, .candidate, .leader], higherTermKinds)
        func higherTermMakesFollower(role: Role, kind: MessageKind) {
            var node = Self.node(in: role)
            #expect(node.role == role)
            let before = ServerState(node)
            let t = node.term + 3
            let isFromLeader = kind == .appendEntries || kind == .heartbeat
            node.step(Message(kind: kind, from: 2, to: 1, term: t, reject: kind == .requestVoteResponse))
            var expected = before
            expected.role = .follower
            expected.term = t
            expected.vote = 0 // no vote yet in the new term
            expected.leader = isFromLeader ? 2 : 0
            #expect(ServerState(node) == expected)
            let rd = Paper.flush(&node)
            #expect(rd.hardState?.term == t && rd.mustSync, "the new term is persisted")
        }

        /// Node 1 of three in `role`, at term 2 or 3, holding one entry of term 1.
        static func node(in role: Role) -> RaftNode {
            switch role {
            case .leader:
                return Paper.leader(term: 2, log: [1]).node
            case .follower:
                return Paper.node(term: 2, log: [1])
            case .candidate, .preCandidate:
                var node = Paper.node(term: 2, log: [1])
                node.campaign(isTransfer: role == .candidate) // pre-vote is on by default
                Paper.flush(&node)
                return node
            }
        }
    }

    @Suite("Figure 2: persistent state on all servers")
    struct PersistentState {
        @Test("Figure 2 Persistent state: a granted vote (currentTerm, votedFor) is in the Ready that sends it, marked mustSync, so it is on stable storage before the vote is sent")
        func voteSyncedWithItsMessage() {
            var node = Paper.node(id: 2, term: 4, log: [1])
            node.step(Message(kind: .requestVote, from: 3, to: 2, term: 4, logTerm: 1, index: 1))
            let rd = Paper.flush(&node)
            #expect(rd.hardState == HardState(term: 4, vote: 3, commit: 0))
            #expect(rd.mustSync, "only votedFor changed, and it must still be synced")
            #expect(rd.messages == [Message(kind: .requestVoteResponse, from: 2, to: 3, term: 4)])
        }

        @Test("Figure 2 Persistent state: entries (log[]) a follower acknowledges are in the Ready that sends the acknowledgement, marked mustSync")
        func entriesSyncedWithTheirAck() {
            var node = Paper.node(id: 2, term: 2, log: [1])
            node.step(Paper.append(from: 1, to: 2, term: 2, prevIndex: 1, prevTerm: 1, terms: [2, 2]))
            let rd = Paper.flush(&node)
            #expect(rd.entries == Paper.entries([2, 2], from: 2))
            #expect(rd.mustSync)
            #expect(rd.messages == [Message(kind: .appendResponse, from: 2, to: 1, term: 2, index: 3)])
        }

        @Test("Figure 2 Persistent state: a leader counts its own new entries toward a majority only after the host has persisted them")
        func leaderCountsItselfOnceDurable() throws {
            var node = Paper.steadyLeader()
            let ticket = try node.propose([7])
            // Follower 2 acknowledges before the leader's own write: one of three is no majority.
            node.step(Message(kind: .appendResponse, from: 2, to: 1, term: node.term, index: ticket.index))
            #expect(node.commitIndex == 1)
            let rd = Paper.flush(&node) // the host writes the entry, then advance()
            #expect(rd.entries.map(\.index) == [ticket.index] && rd.mustSync)
            #expect(node.commitIndex == ticket.index)
        }

        @Test("Figure 2 Persistent state: commitIndex is volatile: a batch that changes only it asks for no sync")
        func commitOnlyNeedsNoSync() {
            var node = Paper.node(id: 2, term: 1, log: [1, 1])
            node.step(Message(kind: .heartbeat, from: 1, to: 2, term: 1, commit: 2))
            let rd = Paper.flush(&node)
            #expect(rd.hardState == HardState(term: 1, vote: 0, commit: 2))
            #expect(!rd.mustSync)
        }

        @Test("Figure 2 Persistent state: a server restarted from stable storage keeps currentTerm, votedFor and log[], so it never votes twice in a term")
        func restartKeepsVote() throws {
            let storage = MemoryStorage()
            var node = Paper.node(id: 2, term: 4, log: [1])
            try storage.save(hardState: node.hardState, entries: Paper.entries([1]), mustSync: true)
            node.step(Message(kind: .requestVote, from: 3, to: 2, term: 5, logTerm: 1, index: 1))
            let rd = Paper.flush(&node)
            try storage.save(hardState: rd.hardState, entries: rd.entries, mustSync: rd.mustSync)
            // Crash and restart from what the host persisted before sending the vote.
            var restarted = try RaftNode(config: node.config, persisted: storage.load())
            #expect(ServerState(restarted) == ServerState(role: .follower, term: 5, vote: 3, leader: 0, commit: 0, logTerms: [1]))
            restarted.step(Message(kind: .requestVote, from: 1, to: 2, term: 5, logTerm: 1, index: 1))
            #expect(Paper.flush(&restarted).messages == [Message(kind: .requestVoteResponse, from: 2, to: 1, term: 5, reject: true)])
        }
    }
}
