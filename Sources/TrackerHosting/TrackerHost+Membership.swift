import Consensus
import TrackerProtocol

/// An operator's request about the cluster's membership. It arrives only on a connection that
/// proved the cluster key (as a tracker does), never from a client.
public enum AdminRequest: Equatable, Sendable {
    /// The configuration in force on the tracker asked (any tracker answers).
    case list
    /// One configuration change, for the leader (others redirect).
    case change(ConfigurationChange)
}

extension TrackerHost {
    /// Takes an operator's request. A change is answered with the tracker's status (its
    /// `members` the new configuration) once the change commits, or with a one-line reason:
    /// `.retryLater` while it may still succeed (no entry of the leader's term committed yet, a
    /// change in progress, a learner still catching up, leadership being handed over before
    /// the leader removes itself), `.rejected` when it cannot, a redirect from a follower.
    public mutating func submitAdmin(_ request: AdminRequest, replyTo target: ReplyTarget) {
        switch request {
        case .list:
            reply(target, .status(status))
        case let .change(change):
            proposeAdminChange(change, target: target)
        }
    }

    mutating func proposeAdminChange(_ change: ConfigurationChange, target: ReplyTarget) {
        guard raft.role == .leader else { return reply(target, notLeaderResponse) }
        if case let .remove(id) = change, id == raft.config.id, let next = raft.preferredTransferTarget {
            // Removing the leader: hand leadership over first; the operator's tool retries
            // the removal at the new leader (no election timeout is lost).
            do {
                try raft.transferLeadership(to: next)
                return reply(target, .retryLater(reason: "handing leadership to tracker \(next) before removing this one"))
            } catch {
                return reply(target, .retryLater(reason: "leadership cannot be handed over now"))
            }
        }
        do throws(ConfigurationError) {
            let ticket = try raft.proposeConfigurationChange(change)
            pendingWrites[ticket.index] = PendingWrite(term: ticket.term, target: target, kind: .configuration)
        } catch {
            reply(target, response(for: error))
        }
    }

    /// The answer to a refused change: transient reasons say "retry later".
    func response(for error: ConfigurationError) -> ClientResponse {
        switch error {
        case .notLeader: notLeaderResponse
        case .notCommittedInTerm, .changeInProgress, .transferring, .learnerNotCaughtUp: .retryLater(reason: error.description)
        default: .rejected(reason: error.description)
        }
    }

    /// On a leader, once per tick: pins the incarnation of a member that has none pinned (the
    /// seed members, and members added without one), then promotes a learner that caught up.
    /// One change at a time, and only when the core would accept it.
    mutating func maybeMaintainMembership() {
        guard options.isMembershipMaintained, raft.role == .leader, raft.hasCommittedInTerm,
              !raft.isConfigurationChangePending else { return }
        let change: ConfigurationChange
        if let (id, incarnation) = raft.membersToPin.first {
            change = .pin(id: id, incarnation: incarnation)
        } else if let id = raft.learnersReadyForPromotion.first {
            change = .promote(id: id)
        } else {
            return
        }
        do throws(ConfigurationError) {
            _ = try raft.proposeConfigurationChange(change)
            counters.membershipChangesProposed += 1
        } catch {
            return // e.g. the new voter set would not be reachable: tried again next tick
        }
    }

    /// The members of the configuration in force, for `cluster_status` and `member list`.
    var memberStatuses: [TrackerStatus.Member] {
        raft.configuration.members.map { member in
            let address = member.address.isEmpty ? (options.addresses[member.id] ?? "") : member.address
            return TrackerStatus.Member(id: member.id, address: address, role: TrackerStatus.MemberRole(member.role),
                                        fingerprint: member.fingerprint)
        }
    }

    /// Where tracker `id` listens: the configuration's address, else the seed list's.
    public func address(of id: NodeID) -> String? {
        if let address = raft.configuration.member(id)?.address, !address.isEmpty { return address }
        return options.addresses[id]
    }
}

extension TrackerStatus.MemberRole {
    /// The wire's name for a configuration role.
    init(_ role: MemberRole) {
        switch role {
        case .voter: self = .voter
        case .learner: self = .learner
        case .witness: self = .witness
        }
    }
}
