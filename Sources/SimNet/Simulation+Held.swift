import Consensus

/// Links whose cut keeps the TCP connection: packets are dropped on the path (a failed switch,
/// a firewall that drops), but neither end resets the connection, so what was sent waits in
/// the sender's backlog and is retransmitted when the path comes back. tracker-node's peer
/// links behave so: a link thread blocks in `send` while TCP retransmits, nothing times the
/// connection out for minutes, and the backlog (up to `PeerLinks.pendingBytesMax`) goes out in
/// order after the outage, a stale leader's InstallSnapshot included. Other cuts lose what
/// crosses them (a reset connection). Only randomized runs draw holding cuts.
struct HeldLinks {
    /// Per cut link (from, to): whether it holds, and what it holds, in send order.
    var links: [Int: Link] = [:]

    struct Link {
        var cutAtMicros: UInt64
        var messages: [(message: Message, fromEpoch: Int, toEpoch: Int, isUnsent: Bool)] = []
    }

    static func key(_ from: Int, _ to: Int) -> Int { from << 8 | to }
}

extension Simulation {
    /// A link was cut: in randomized runs, half the cuts keep the connection and hold traffic.
    func linkWasCut(from: Int, to: Int) {
        guard options.isFaultInjectionOn, healedAtMicros == nil, Bool.random(using: &random) else { return }
        held.links[HeldLinks.key(from, to)] = HeldLinks.Link(cutAtMicros: nowMicros)
        coverage.add("cut link holding its traffic")
    }

    /// Keeps `m`, sent on or arriving at a cut link, if the cut holds traffic. Returns whether
    /// it was kept.
    func holdIfLinkHolds(_ m: Message, isUnsent: Bool) -> Bool {
        let from = Int(m.from) - 1
        let to = Int(m.to) - 1
        let key = HeldLinks.key(from, to)
        guard held.links[key] != nil else { return false }
        held.links[key]!.messages.append((m, nodes[from].epoch, nodes[to].epoch, isUnsent))
        return true
    }

    /// The link came back: TCP retransmits its backlog at its next retransmission timeout (up to
    /// a second after the path returns, backed off while it was down), in order. What either
    /// end's crash reset is lost.
    func linkWasRestored(from: Int, to: Int) {
        guard let link = held.links.removeValue(forKey: HeldLinks.key(from, to)), !link.messages.isEmpty else { return }
        let backoff = min(nowMicros - link.cutAtMicros, 1_000_000)
        var at = nowMicros + UInt64.random(in: 0...backoff, using: &random) + drawDelayMicros()
        var released = 0
        for (m, fromEpoch, toEpoch, isUnsent) in link.messages where nodes[from].epoch == fromEpoch && nodes[to].epoch == toEpoch {
            if m.kind == .installSnapshot {
                coverage.add("snapshot released after a cut")
                if isUnsent { at += drawSnapshotTransferMicros(m) } // streamed only now
            }
            queue.schedule(.deliver(m), atMicros: at)
            at += 10 // in order, each behind the one before it on the stream
            released += 1
        }
        coverage.add("held messages released", released)
    }
}
