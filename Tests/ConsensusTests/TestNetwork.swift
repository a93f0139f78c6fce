@testable import Consensus

/// A tiny synchronous network of pure Raft nodes for tests (the shape of etcd raft's
/// `network` in raft_test.go): messages are delivered in order, one at a time, and links can be
/// cut, nodes isolated and message kinds dropped. Invariants are checked after every input.
struct TestNetwork {
    var nodes: [NodeID: RaftNode] = [:]
    var storages: [NodeID: MemoryStorage] = [:]
    /// Entries each node has applied, in order.
    var applied: [NodeID: [Entry]] = [:]
    /// Reads each node confirmed.
    var readStates: [NodeID: [ReadState]] = [:]
    var droppedReads: [NodeID: [UInt64]] = [:]
    var inFlight: [Message] = []
    var cutLinks: Set<[NodeID]> = []
    var droppedKinds: Set<MessageKind> = []
    /// Nodes whose answer to an installed snapshot is lost (sent, never delivered).
    var losesSnapshotAnswers: Set<NodeID> = []
    /// Every message that was sent, for tests that count them.
    var sent: [Message] = []
    /// Each node's newest snapshot: its bytes are the applied entries' data, one per line.
    var snapshots: [NodeID: Snapshot] = [:]

    init(size: Int, seed: UInt64 = 1, configure: (inout RaftConfig) -> Void = { _ in }) {
        let ids = (1...UInt64(size)).map { $0 }
        for id in ids {
            var config = RaftConfig(id: id, peers: ids)
            config.randomSeed = seed &* 1000 &+ id
            configure(&config)
            storages[id] = MemoryStorage()
            nodes[id] = try! RaftNode(config: config, persisted: PersistedState())
            applied[id] = []
        }
    }

    /// A network whose nodes start from stored logs, given as the term of each entry.
    init(logs: [[UInt64]]) {
        self.init(size: logs.count)
        for (i, terms) in logs.enumerated() { load(NodeID(i + 1), term: terms.max() ?? 0, logTerms: terms) }
    }

    /// Replaces node `id` (same config) with one started from a fresh store holding hard-state
    /// `term` and a log given as the term of each entry.
    mutating func load(_ id: NodeID, term: UInt64, logTerms terms: [UInt64]) {
        let entries = terms.enumerated().map { Entry(term: $1, index: UInt64($0 + 1)) }
        let persisted = PersistedState(hardState: HardState(term: term), entries: entries)
        storages[id] = MemoryStorage()
        try! storages[id]!.save(hardState: persisted.hardState, entries: entries, mustSync: true)
        nodes[id] = try! RaftNode(config: nodes[id]!.config, persisted: persisted)
    }

    var ids: [NodeID] { nodes.keys.sorted() }

    func node(_ id: NodeID) -> RaftNode { nodes[id]! }

    /// The one leader of the highest term, if any.
    var leader: NodeID? {
        let leaders = ids.filter { nodes[$0]!.role == .leader }
        return leaders.max { nodes[$0]!.term < nodes[$1]!.term }
    }

    mutating func isolate(_ id: NodeID) {
        for other in ids where other != id {
            cutLinks.insert([id, other])
            cutLinks.insert([other, id])
        }
    }

    mutating func cut(_ a: NodeID, _ b: NodeID) {
        cutLinks.insert([a, b])
        cutLinks.insert([b, a])
    }

    mutating func drop(_ kind: MessageKind) { droppedKinds.insert(kind) }

    mutating func heal() {
        cutLinks.removeAll()
        droppedKinds.removeAll()
    }

    /// Carries out every node's ready batches, then delivers messages until none are left.
    mutating func stabilize(maxSteps: Int = 100_000) {
        stabilize(losing: { _, _ in false }, maxSteps: maxSteps)
    }

    /// Like `stabilize`, but loses each message for which `isLost(message, receiver)` holds
    /// when it is about to be delivered.
    mutating func stabilize(losing isLost: (Message, RaftNode) -> Bool, maxSteps: Int = 100_000) {
        var steps = 0
        drainReady()
        while !inFlight.isEmpty {
            steps += 1
            precondition(steps < maxSteps, "network did not settle")
            let m = inFlight.removeFirst()
            if isLost(m, nodes[m.to]!) { continue }
            nodes[m.to]!.step(m)
            nodes[m.to]!.checkInvariants()
            drainReady()
        }
    }

    /// Carries out ready batches without delivering messages (they stay queued).
    mutating func drainReady() {
        for id in ids {
            var rounds = 0
            while nodes[id]!.hasReady {
                rounds += 1
                precondition(rounds < 1000, "ready loop")
                let rd = nodes[id]!.ready()
                if let snapshot = rd.snapshot {
                    try! storages[id]!.saveSnapshot(snapshot)
                    snapshots[id] = snapshot
                    applied[id] = Self.entries(fromSnapshot: snapshot)
                }
                try! storages[id]!.save(hardState: rd.hardState, entries: rd.entries, mustSync: rd.mustSync)
                for var m in rd.messages {
                    if m.kind == .installSnapshot { m.snapshot = snapshots[id] } // the host attaches the bytes
                    sent.append(m)
                    let isLostSnapshotAnswer = rd.snapshot != nil && m.kind == .appendResponse && losesSnapshotAnswers.contains(id)
                    if !cutLinks.contains([m.from, m.to]) && !droppedKinds.contains(m.kind) && !isLostSnapshotAnswer { inFlight.append(m) }
                }
                applied[id]!.append(contentsOf: rd.committedEntries)
                readStates[id, default: []].append(contentsOf: rd.readStates)
                droppedReads[id, default: []].append(contentsOf: rd.droppedReads)
                nodes[id]!.advance()
                nodes[id]!.checkInvariants()
            }
        }
    }

    mutating func tick(_ id: NodeID, times: Int = 1) {
        for _ in 0..<times {
            nodes[id]!.tick()
            nodes[id]!.checkInvariants()
        }
    }

    /// Ticks every node once and settles, `times` times.
    mutating func tickAll(times: Int) {
        for _ in 0..<times {
            for id in ids { tick(id) }
            stabilize()
        }
    }

    /// Makes `id` campaign now (as if its election timeout fired) and settles.
    mutating func campaign(_ id: NodeID) {
        nodes[id]!.campaign(isTransfer: false)
        nodes[id]!.checkInvariants()
        stabilize()
    }

    mutating func propose(_ id: NodeID, _ text: String) throws(ProposalError) -> ProposalTicket {
        let ticket = try nodes[id]!.propose(Array(text.utf8))
        nodes[id]!.checkInvariants()
        return ticket
    }

    /// Restarts a node from its storage, as after a crash (volatile state is lost).
    mutating func restart(_ id: NodeID) {
        let config = nodes[id]!.config
        let persisted = try! storages[id]!.load()
        nodes[id] = try! RaftNode(config: config, persisted: persisted)
        applied[id] = persisted.snapshot.map(Self.entries(fromSnapshot:)) ?? []
        inFlight.removeAll { $0.to == id || $0.from == id }
    }

    /// Takes a snapshot of what `id` has applied, makes it durable and compacts the log.
    mutating func takeSnapshot(_ id: NodeID, retainedEntries: UInt64 = 0) {
        let node = nodes[id]!
        let meta = node.snapshotMeta(at: node.appliedIndex)! // with the configuration in force there
        let data = Array(appliedData(id).joined(separator: "\n").utf8)
        let snapshot = Snapshot(meta: meta, data: data)
        try! storages[id]!.saveSnapshot(snapshot)
        snapshots[id] = snapshot
        nodes[id]!.compact(through: meta, retainedEntries: retainedEntries)
        nodes[id]!.checkInvariants()
    }

    /// The applied entries a snapshot stands for (as normal entries with only data).
    static func entries(fromSnapshot snapshot: Snapshot) -> [Entry] {
        guard !snapshot.data.isEmpty else { return [] }
        return String(decoding: snapshot.data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .map { Entry(term: 0, index: 0, data: Array($0.utf8)) }
    }

    /// Data of normal entries applied at `id`, as strings.
    func appliedData(_ id: NodeID) -> [String] {
        applied[id]!.filter { $0.kind == .normal }.map { String(decoding: $0.data, as: UTF8.self) }
    }
}
