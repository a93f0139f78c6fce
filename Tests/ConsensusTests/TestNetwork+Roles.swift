@testable import Consensus

/// `TestNetwork` for clusters with roles: learners, a witness, pinned incarnations, nodes that
/// join later or come back with an empty data directory.
extension TestNetwork {
    /// A network with one node per member of `configuration`, each starting from it (a member
    /// with a pinned incarnation gets that incarnation as its own).
    init(configuration: Configuration, seed: UInt64 = 1, configure: (inout RaftConfig) -> Void = { _ in }) {
        for member in configuration.members {
            addNode(member.id, initialConfiguration: configuration, incarnation: member.incarnation, seed: seed, configure: configure)
        }
    }

    /// Starts node `id` with empty storage: a tracker that joins (initial configuration empty)
    /// or one whose data directory was wiped (a new incarnation).
    mutating func addNode(_ id: NodeID, initialConfiguration: Configuration = .empty, incarnation: UInt64 = 0,
                          seed: UInt64 = 1, configure: (inout RaftConfig) -> Void = { _ in }) {
        var config = RaftConfig(id: id, initialConfiguration: initialConfiguration)
        config.incarnation = incarnation
        config.randomSeed = seed &* 1000 &+ id
        configure(&config)
        storages[id] = MemoryStorage()
        nodes[id] = try! RaftNode(config: config, persisted: PersistedState())
        applied[id] = []
        inFlight.removeAll { $0.to == id || $0.from == id }
    }

    /// Node `id` comes back with an empty data directory and a new incarnation, same config.
    mutating func wipe(_ id: NodeID, newIncarnation: UInt64) {
        var config = nodes[id]!.config
        config.incarnation = newIncarnation
        storages[id] = MemoryStorage()
        nodes[id] = try! RaftNode(config: config, persisted: PersistedState())
        applied[id] = []
        inFlight.removeAll { $0.to == id || $0.from == id }
    }

    /// Proposes a configuration change on `id` and checks the invariants.
    mutating func change(_ id: NodeID, _ change: ConfigurationChange) throws(ConfigurationError) -> ProposalTicket {
        let ticket = try nodes[id]!.proposeConfigurationChange(change)
        nodes[id]!.checkInvariants()
        return ticket
    }

    /// Elects `id` and settles, so that its no-op is committed everywhere it can reach.
    mutating func elect(_ id: NodeID) {
        campaign(id)
        precondition(nodes[id]!.role == .leader, "node \(id) was not elected")
    }

    /// The indexes at which two nodes applied different entries (State Machine Safety holds
    /// when there are none). Entries that stand for a snapshot carry no index and are skipped.
    var appliedConflicts: [UInt64] {
        var seen: [UInt64: Entry] = [:]
        var conflicts: Set<UInt64> = []
        for id in ids {
            for entry in applied[id]! where entry.index > 0 {
                if let other = seen[entry.index], other != entry { conflicts.insert(entry.index) }
                seen[entry.index] = seen[entry.index] ?? entry
            }
        }
        return conflicts.sorted()
    }

    /// Messages sent to `id` of `kind` since `start` (an index into `sent`).
    func sentCount(to id: NodeID, kind: MessageKind? = nil, since start: Int = 0) -> Int {
        sent[start...].count { $0.to == id && (kind == nil || $0.kind == kind) }
    }

    /// Ticks every node once, delivering all messages after each round, until `done` holds or
    /// `limit` rounds have passed; returns whether `done` held.
    mutating func tick(until done: (TestNetwork) -> Bool, limit: Int) -> Bool {
        for _ in 0..<limit {
            if done(self) { return true }
            tickAll(times: 1)
        }
        return done(self)
    }
}

extension Configuration {
    /// Full voters `voters`, learners `learners` and a witness, for tests (unpinned, no addresses).
    static func make(voters: [NodeID], learners: [NodeID] = [], witness: NodeID? = nil) -> Configuration {
        var members = voters.map { Member(id: $0, role: .voter) } + learners.map { Member(id: $0, role: .learner) }
        if let witness { members.append(Member(id: witness, role: .witness)) }
        return try! Configuration(members)
    }
}
