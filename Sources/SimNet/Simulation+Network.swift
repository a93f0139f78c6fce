import Consensus
import TrackerHosting
import TrackerProtocol

/// The simulated network: per-link blocking, loss, duplication, variable delay (which also
/// reorders), and the partition shapes the scenarios need.
extension Simulation {
    /// A delay drawn from the seed's profile.
    func drawDelayMicros() -> UInt64 {
        var delay = UInt64.random(in: profile.delayMinMicros...profile.delayMaxMicros, using: &random)
        if chance(profile.longDelayRate) { delay += UInt64.random(in: 0...profile.longDelayMaxMicros, using: &random) }
        return delay
    }

    /// Sends a Raft message `afterMicros` into the sender's window. `isSnapshotAnswer` marks
    /// the answer to an installed snapshot, whose loss the coverage report counts.
    func sendRaft(_ m: Message, afterMicros: UInt64 = 0, isSnapshotAnswer: Bool = false) {
        let from = Int(m.from) - 1
        if m.kind == .installSnapshot { nodes[from].snapshotsSent += 1 }
        let to = Int(m.to) - 1
        if blocked[from][to] {
            if holdIfLinkHolds(m, isUnsent: true) { return }
            if isSnapshotAnswer { coverage.add("snapshot answer lost") }
            trace.record(nowMicros, TraceCode.dropPartition.rawValue, m.from, m.to, UInt64(m.kind.rawValue), m.term,
                         "drop \(m.kind) \(m.from)->\(m.to): link cut")
            return
        }
        if chance(profile.lossRate) {
            if isSnapshotAnswer { coverage.add("snapshot answer lost") }
            trace.record(nowMicros, TraceCode.dropLoss.rawValue, m.from, m.to, UInt64(m.kind.rawValue), m.term,
                         "drop \(m.kind) \(m.from)->\(m.to): lost")
            return
        }
        let transfer = m.kind == .installSnapshot ? drawSnapshotTransferMicros(m) : 0
        queue.schedule(.deliver(m), atMicros: nowMicros + afterMicros + transfer + drawDelayMicros())
        if chance(profile.duplicateRate) {
            trace.record(nowMicros, TraceCode.duplicate.rawValue, m.from, m.to, UInt64(m.kind.rawValue), m.term,
                         "duplicate \(m.kind) \(m.from)->\(m.to)")
            queue.schedule(.deliver(m), atMicros: nowMicros + afterMicros + drawDelayMicros())
        }
    }

    /// Client traffic is lossy and delayed like tracker traffic, but partitions cut trackers
    /// from each other, not from clients. A lost login answer is remembered for coverage.
    func sendReply(_ reply: Reply, from index: Int, afterMicros: UInt64 = 0) {
        // Answers to the simulator's own membership requests go nowhere.
        guard reply.target.connection < UInt64(clients.count) else { return }
        let client = Int(reply.target.connection)
        guard !chance(profile.lossRate) else {
            if case .loggedIn = reply.response, clients.indices.contains(client) { clients[client].current?.isLoginAnswerLost = true }
            return
        }
        queue.schedule(.response(client: client, attempt: reply.target.tag, reply.response), atMicros: nowMicros + afterMicros + drawDelayMicros())
    }

    func sendRequest(_ request: ClientRequest, client: Int, attempt: UInt64, to node: Int) {
        guard !chance(profile.lossRate) else { return }
        queue.schedule(.request(node: node, client: client, attempt: attempt, request), atMicros: nowMicros + drawDelayMicros())
    }

    func setLink(from: Int, to: Int, isBlocked: Bool) {
        guard from != to, blocked[from][to] != isBlocked else { return }
        blocked[from][to] = isBlocked
        if isBlocked { linkWasCut(from: from, to: to) } else { linkWasRestored(from: from, to: to) }
        trace.record(nowMicros, TraceCode.partition.rawValue, UInt64(from + 1), UInt64(to + 1), isBlocked ? 1 : 0, 0,
                     "link \(from + 1)->\(to + 1) \(isBlocked ? "cut" : "restored")")
    }

    /// Cuts both directions between trackers `a` and `b` (0-based).
    public func cut(_ a: Int, _ b: Int) {
        setLink(from: a, to: b, isBlocked: true)
        setLink(from: b, to: a, isBlocked: true)
    }

    /// Cuts only `from` → `to`.
    public func cutOneWay(from: Int, to: Int) {
        setLink(from: from, to: to, isBlocked: true)
    }

    /// Splits the trackers into `group` and the rest, both directions.
    public func partition(_ group: [Int]) {
        for a in group {
            for b in nodes.indices where !group.contains(b) { cut(a, b) }
        }
    }

    /// Cuts tracker `index` off from every other tracker.
    public func isolate(_ index: Int) { partition([index]) }

    /// Restores every link between trackers.
    public func healNetwork() {
        for from in nodes.indices {
            for to in nodes.indices { setLink(from: from, to: to, isBlocked: false) }
        }
    }

    /// Clogs every link of tracker `index`, and schedules each to come back at its own random
    /// time within `withinMillis`, so they unclog in another order than they clogged.
    func clog(_ index: Int, withinMillis: UInt64) {
        var links: [(Int, Int)] = []
        for other in nodes.indices where other != index {
            links.append((index, other))
            links.append((other, index))
        }
        for (from, to) in links {
            setLink(from: from, to: to, isBlocked: true)
            let back = UInt64.random(in: 1...max(1, withinMillis), using: &random) * 1_000
            queue.schedule(.unclog(from: from, to: to), atMicros: nowMicros + back)
        }
    }
}
