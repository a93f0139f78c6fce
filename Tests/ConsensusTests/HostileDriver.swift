@testable import Consensus

// Shared by FuzzTests and the libFuzzer target in bench/fuzz.

/// Drives one node as a host would (input, then ready and advance) with hostile input drawn
/// from a choice source, and traps as soon as a rule breaks: the core's invariants after
/// every input and batch, and the negative space of validation (a refused message changes
/// nothing; terms and commit never go down; no term passes `termMax` unless the node started
/// above it).
struct HostileDriver {
    var node: RaftNode
    var generator = HostileMessages()
    /// What the node sent in its latest batches, to answer.
    var outbox: [Message] = []
    var nextRequestID: UInt64 = 1
    var snapshotInProgress: SnapshotMeta?
    /// Inputs given so far.
    private(set) var inputCount = 0
    let startTerm: UInt64

    init(node: RaftNode, generator: HostileMessages = HostileMessages()) {
        self.node = node
        self.generator = generator
        startTerm = node.term
    }

    /// Gives the node one input chosen by `s`, carries out its batches, checks everything.
    mutating func act(using s: inout some ChoiceSource) {
        inputCount += 1
        switch s.below(16) {
        case 0:
            node.tick()
        case 1:
            _ = try? node.propose(generator.payloads[s.below(generator.payloads.count)])
        case 2:
            try? node.readIndex(requestID: nextRequestID)
            nextRequestID += 1
        case 3:
            if s.oneIn(2) { compactApplied() } else { _ = try? node.proposeConfigurationChange(generator.change(for: node, using: &s)) }
        case 4...7:
            if !outbox.isEmpty, let answer = generator.answer(to: outbox[s.below(outbox.count)], using: &s) {
                step(answer)
            } else {
                step(generator.message(to: node, using: &s))
            }
        default:
            step(generator.message(to: node, using: &s))
        }
        node.checkInvariants()
        drain()
    }

    /// Steps `m` and checks what a refusal must (not) change.
    mutating func step(_ m: Message) {
        let before = (term: node.term, vote: node.vote, commit: node.commitIndex, last: node.lastIndex,
                      role: node.role, refused: node.refusals.messages)
        let refusal = node.refusal(of: m)
        node.step(m)
        node.checkInvariants()
        if let refusal {
            precondition(node.refusals.messages == before.refused + 1 && node.refusals.lastMessage == refusal, "refusal not counted")
            precondition(node.term == before.term && node.vote == before.vote && node.commitIndex == before.commit
                && node.lastIndex == before.last && node.role == before.role, "refused message \(refusal) changed the node")
        }
        precondition(node.term >= before.term, "term went down")
        precondition(node.commitIndex >= before.commit, "commit went down")
        precondition(node.term <= max(startTerm, node.config.messageLimits.termMax), "term passed the maximum")
    }

    /// Snapshots what is applied, as a host does: the first call starts writing a snapshot of
    /// the applied state, the next one finishes it (inputs arrive in between, as in
    /// tracker-node, whose snapshot writer runs on its own thread).
    mutating func compactApplied() {
        if let meta = snapshotInProgress {
            snapshotInProgress = nil
            node.compact(through: meta, retainedEntries: 1)
            return
        }
        let applied = node.appliedIndex
        guard applied > 0, let meta = node.snapshotMeta(at: applied) else { return }
        snapshotInProgress = meta
    }

    /// Carries out ready batches as a host would (persisting is the host's; nothing to do here).
    mutating func drain() {
        var rounds = 0
        while node.hasReady && rounds < 64 {
            rounds += 1
            let rd = node.ready()
            if !rd.messages.isEmpty { outbox = Array(rd.messages.suffix(16)) }
            node.advance()
            node.checkInvariants()
        }
    }

    /// Decodes `frame` as a Raft message and, if it decodes, steps it. Whatever decodes must
    /// encode back to the same bytes (the encoding is canonical).
    mutating func stepFrame(_ frame: [UInt8]) {
        guard let m = try? RaftCodec.decodeMessage(frame) else { return }
        precondition(RaftCodec.encode(m) == frame, "decoding is not the inverse of encoding")
        inputCount += 1
        step(m)
        drain()
    }
}
