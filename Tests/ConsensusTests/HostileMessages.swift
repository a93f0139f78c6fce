@testable import Consensus
import SeededRandom

// Shared by FuzzTests (seeded) and the libFuzzer target in bench/fuzz (which compiles this
// file too): one generator of hostile messages, two sources of choices.

/// Where a hostile generator draws its choices from.
protocol ChoiceSource {
    /// Eight bits of choice.
    mutating func nextByte() -> UInt8
    /// Sixty-four bits of choice.
    mutating func nextWord() -> UInt64
    /// Whether the source has no more choices to give (a fuzz input's bytes ran out).
    var isExhausted: Bool { get }
}

extension ChoiceSource {
    /// A number in `0..<count` (0 when `count` is at most 1).
    mutating func below(_ count: Int) -> Int {
        guard count > 1 else { return 0 }
        if count <= 256 { return Int(nextByte()) % count }
        return Int(nextWord() % UInt64(count))
    }

    /// True once in `count` draws, on average.
    mutating func oneIn(_ count: Int) -> Bool { below(count) == 0 }

    /// Up to `maxCount` arbitrary bytes.
    mutating func bytes(maxCount: Int) -> [UInt8] {
        (0..<below(maxCount + 1)).map { _ in nextByte() }
    }
}

/// Choices from a seeded generator: endless, and a pure function of the seed.
struct SeededChoices: ChoiceSource {
    var generator: SeededGenerator
    init(seed: UInt64) { generator = SeededGenerator(seed: seed) }
    mutating func nextByte() -> UInt8 { UInt8(truncatingIfNeeded: generator.next()) }
    mutating func nextWord() -> UInt64 { generator.next() }
    var isExhausted: Bool { false }
}

/// Choices read from a fuzz input, byte by byte; zeros once it runs out.
struct ByteChoices: ChoiceSource {
    let bytes: [UInt8]
    var position = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func nextByte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func nextWord() -> UInt64 {
        var word: UInt64 = 0
        for _ in 0..<8 { word = word << 8 | UInt64(nextByte()) }
        return word
    }

    var isExhausted: Bool { position >= bytes.count }
}

/// Makes messages for one node that are well-formed in shape but hostile in content: terms and
/// indexes near the node's own and at the edges (0, the limits, `UInt64.max`), entries that
/// skip, go down in term or outrun the message term, snapshots at index 0 or missing, senders
/// and recipients that are wrong, and plausible answers to what the node sent.
struct HostileMessages {
    /// Payloads entries may carry (the host's commands, say); arbitrary bytes are mixed in.
    var payloads: [[UInt8]] = [Array("x".utf8)]
    /// Payloads a snapshot may carry.
    var snapshotPayloads: [[UInt8]] = [[]]

    /// A number near one of `anchors`, or at an edge of `0...UInt64.max` around `limit`.
    func number(near anchors: [UInt64], limit: UInt64, using s: inout some ChoiceSource) -> UInt64 {
        switch s.below(16) {
        case 0: return 0
        case 1: return 1
        case 2: return limit
        case 3: return limit &+ 1
        case 4: return UInt64.max &- UInt64(s.below(3))
        case 5: return s.nextWord()
        default:
            let anchor = anchors[s.below(anchors.count)]
            let delta = UInt64(s.below(4))
            return s.oneIn(3) ? anchor &- delta : anchor &+ delta
        }
    }

    /// A message addressed (mostly) to `node`, of any kind, with hostile fields.
    func message(to node: RaftNode, using s: inout some ChoiceSource) -> Message {
        let limits = node.config.messageLimits
        let others = node.config.peers.filter { $0 != node.config.id }
        let terms = [node.term, node.lastTerm, node.term &+ 1, limits.termMax &- 1]
        let indexes = [node.lastIndex, node.commitIndex, node.appliedIndex, node.snapshotMeta?.index ?? 0]
            + node.matchIndexes.map(\.match)
        let kind = MessageKind.allCases[s.below(MessageKind.allCases.count)]
        let from = s.oneIn(24) ? [0, node.config.id, 99, UInt64.max][s.below(4)] : others[s.below(others.count)]
        let to = s.oneIn(24) ? [0, from, 99][s.below(3)] : node.config.id
        var m = Message(kind: kind, from: from, to: to, term: number(near: terms, limit: limits.termMax, using: &s))
        m.index = number(near: indexes, limit: limits.indexMax, using: &s)
        m.logTerm = s.oneIn(2) ? (node.term(at: m.index) ?? 0) : number(near: terms, limit: limits.termMax, using: &s)
        if kind == .appendEntries || kind == .heartbeat || s.oneIn(16) {
            m.commit = number(near: indexes, limit: limits.indexMax, using: &s)
        }
        m.reject = s.oneIn(3)
        if m.reject || s.oneIn(8) { m.rejectHint = number(near: indexes, limit: limits.indexMax, using: &s) }
        m.context = s.oneIn(2) ? UInt64(s.below(4)) : s.nextWord()
        if kind == .appendEntries || s.oneIn(24) { m.entries = entries(after: m.index, logTerm: m.logTerm, term: m.term, using: &s) }
        if !m.entries.isEmpty, s.oneIn(6) {
            let victim = s.below(m.entries.count)
            m.entries[victim].kind = .configuration
            m.entries[victim].data = configurationPayload(for: node, using: &s)
        }
        m.fromIncarnation = s.oneIn(16) ? s.nextWord() : node.configuration.member(from)?.incarnation ?? 0
        if kind == .installSnapshot ? !s.oneIn(16) : s.oneIn(24) {
            let meta = SnapshotMeta(index: number(near: indexes, limit: limits.indexMax, using: &s),
                                    term: number(near: terms + [m.term], limit: limits.termMax, using: &s))
            m.snapshot = Snapshot(meta: meta, data: snapshotPayloads[s.below(snapshotPayloads.count)])
        }
        return m
    }

    /// A configuration entry's data: the node's configuration changed by one member (valid,
    /// or invalid when that leaves no full voter), the empty configuration, or garbage.
    func configurationPayload(for node: RaftNode, using s: inout some ChoiceSource) -> [UInt8] {
        let current = node.configuration
        switch s.below(5) {
        case 0: return current.replacing(Member(id: 9, role: .learner, address: "h:9")).encoded()
        case 1: return current.replacing(Member(id: 8, role: s.oneIn(2) ? .witness : .voter)).encoded()
        case 2:
            guard !current.isEmpty else { return [] }
            return current.removing(current.members[s.below(current.members.count)].id).encoded()
        case 3: return Configuration.empty.encoded()
        default: return s.bytes(maxCount: 40)
        }
    }

    /// A configuration change a host might propose, aimed at the node's own members.
    func change(for node: RaftNode, using s: inout some ChoiceSource) -> ConfigurationChange {
        let ids = node.configuration.ids + [8, 9]
        let id = ids[s.below(ids.count)]
        switch s.below(5) {
        case 0: return .addLearner(id: id, address: "h:\(id)", incarnation: s.oneIn(2) ? 0 : s.nextWord())
        case 1: return .addWitness(id: id, address: "h:\(id)")
        case 2: return .promote(id: id)
        case 3: return .demote(id: id)
        default: return .remove(id: id)
        }
    }

    /// Entries after `prevIndex` that mostly continue it with terms in `logTerm...term`, and
    /// sometimes skip, repeat, go down or outrun the message term.
    func entries(after prevIndex: UInt64, logTerm: UInt64, term: UInt64, using s: inout some ChoiceSource) -> [Entry] {
        let count = s.oneIn(32) ? s.below(300) : s.below(5)
        var entries: [Entry] = []
        var entryTerm = logTerm
        for position in 0..<count {
            if entryTerm < term, s.oneIn(3) { entryTerm += 1 }
            let isNoop = s.oneIn(6)
            let data = isNoop ? [] : (s.oneIn(4) ? s.bytes(maxCount: 24) : payloads[s.below(payloads.count)])
            entries.append(Entry(term: entryTerm, index: prevIndex &+ UInt64(position) &+ 1, kind: isNoop ? .noop : .normal, data: data))
        }
        guard !entries.isEmpty, s.oneIn(4) else { return entries }
        let victim = s.below(entries.count)
        switch s.below(5) {
        case 0: entries[victim].index &+= 1 + UInt64(s.below(3)) // a gap
        case 1: entries[victim].index &-= 1 // a repeat
        case 2: entries[victim].term = entries[victim].term &- 1 // terms go down
        case 3: entries[victim].term = term &+ 1 // beyond the message term
        default: entries[victim] = Entry(term: entries[victim].term, index: entries[victim].index, kind: .noop, data: [1])
        }
        return entries
    }

    /// A plausible answer to `sent` (a message the node sent), sometimes with one field off.
    func answer(to sent: Message, using s: inout some ChoiceSource) -> Message? {
        var m = Message(kind: .appendResponse, from: sent.to, to: sent.from, term: sent.term)
        switch sent.kind {
        case .appendEntries:
            m.reject = s.oneIn(4)
            m.index = m.reject ? sent.index : sent.index &+ UInt64(sent.entries.count)
            if m.reject { m.rejectHint = sent.index &- UInt64(s.below(3)) }
        case .installSnapshot:
            m.index = sent.snapshot?.meta.index ?? 0
        case .heartbeat:
            m.kind = .heartbeatResponse
            m.index = sent.commit &+ UInt64(s.below(3))
            m.context = sent.context
        case .preVote, .requestVote:
            m.kind = sent.kind == .preVote ? .preVoteResponse : .requestVoteResponse
            m.reject = s.oneIn(4)
        default:
            return nil
        }
        if s.oneIn(8) { m.index = number(near: [sent.index], limit: 1 << 60, using: &s) }
        if s.oneIn(8) { m.term = number(near: [sent.term], limit: 1 << 48, using: &s) }
        return m
    }
}
