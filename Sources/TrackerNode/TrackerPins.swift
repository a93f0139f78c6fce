import Consensus
import Networking
import Synchronization

/// The certificate fingerprints trackers are checked against, as the configuration in force
/// says: a member the configuration pins (`Member.fingerprint`, set by `member add`) by that
/// fingerprint, any other tracker by its cluster.conf line (the seed members). Written by the
/// event loop when the configuration changes, read by it (inbound pin checks) and by the peer
/// links' threads (dialing).
final class TrackerPins: Sendable {
    private struct State {
        /// Whom peer links and inbound tracker connections are checked against, by id.
        var peers: [NodeID: CertificateFingerprint]
        /// The pins of the members of the configuration in force (whose certificate may run
        /// `tracker-node member`).
        var members: Set<CertificateFingerprint>
    }

    /// cluster.conf's pins, by id.
    let seed: [NodeID: CertificateFingerprint]
    private let state: Mutex<State>

    init(seed: [NodeID: CertificateFingerprint]) {
        self.seed = seed
        state = Mutex(State(peers: seed, members: Set(seed.values)))
    }

    /// The pin for tracker `id`, or nil when none is known.
    func peer(_ id: NodeID) -> CertificateFingerprint? { state.withLock { $0.peers[id] } }

    /// Whether `fingerprint` is pinned for a member of the configuration in force.
    func isMember(_ fingerprint: CertificateFingerprint) -> Bool { state.withLock { $0.members.contains(fingerprint) } }

    /// Follows the configuration: `reachable` are the ids the peer links reach (the seed list,
    /// the members, and while a change is pending the previous members, whose pins stay).
    func follow(_ configuration: Configuration, reachable: some Sequence<NodeID>) {
        let pinned = Self.pins(of: configuration, seed: seed)
        state.withLock { state in
            var peers = seed
            for id in reachable where peers[id] == nil { peers[id] = state.peers[id] }
            for (id, pin) in pinned { peers[id] = pin }
            state.peers = peers
            state.members = Set(pinned.map(\.pin))
        }
    }

    /// Each member's pin: the configuration's fingerprint when it carries a valid one, else
    /// the member's cluster.conf line's (a member with neither has none).
    static func pins(of configuration: Configuration, seed: [NodeID: CertificateFingerprint]) -> [(id: NodeID, pin: CertificateFingerprint)] {
        configuration.members.compactMap { member in
            guard let pin = CertificateFingerprint(digest: member.fingerprint) ?? seed[member.id] else { return nil }
            return (member.id, pin)
        }
    }
}
