import Consensus
import Networking

/// Where each peer tracker listens, as the peer links should reach them: the seed list
/// (cluster.conf), overridden by the addresses of the configuration in force. A member that a
/// change removes stays reachable until the change commits (the leader still replicates to
/// it so it learns of its removal); then only the seed list and the configuration remain.
struct PeerAddressBook {
    let seed: [NodeID: PeerAddress]
    private(set) var addresses: [NodeID: PeerAddress] = [:]
    private var lastConfiguration: Configuration?
    private var lastPending = false

    init(seed: [NodeID: PeerAddress]) {
        self.seed = seed
    }

    /// Follows `configuration`; returns the address map when the configuration (or whether a
    /// change is pending) differs from the last one followed, else nil.
    mutating func follow(_ configuration: Configuration, isPending: Bool) -> [NodeID: PeerAddress]? {
        guard configuration != lastConfiguration || isPending != lastPending else { return nil }
        lastConfiguration = configuration
        lastPending = isPending
        var next = seed
        if isPending {
            for id in addresses.keys.sorted() { next[id] = addresses[id] } // the previous members
        }
        for member in configuration.members {
            if let address = try? PeerAddress.parse(member.address) { next[member.id] = address }
        }
        addresses = next
        return next
    }
}
