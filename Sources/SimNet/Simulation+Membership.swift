import Consensus
import TrackerHosting
import TrackerProtocol

/// What the membership driver has done in a run.
struct MembershipDraws: Sendable {
    /// Tag of the next admin request.
    var nextTag: UInt64 = 1
    /// Trackers added at runtime so far.
    var added = 0
    /// A crashed voter was removed to be replaced: the next change adds its successor.
    var isReplacing = false
    /// Armed by `armAmbush`: the leader cut off with a removal in its log, and that removal.
    var ambush: (oldLeader: Int, removed: Int)?
}

/// The kinds of membership change the driver draws.
enum MembershipKind: String, CaseIterable, Sendable {
    case addLearner = "add learner"
    case promote
    case remove
    case replace = "replace crashed"
}

/// Membership changes during the faults (`SimOptions.isMembershipOn`): every so often, and
/// sometimes right after an election, the driver asks the leader, as `tracker-node member`
/// does (an admin request in its input queue), to add a learner (a new tracker with a new id
/// and a new data-directory incarnation), promote a learner, remove a voter, or replace a
/// crashed voter (remove it, then add a new tracker). The host's own maintenance pins and
/// promotes as in tracker-node. Every checker stays on; at the end only the members of the
/// configuration in force must converge.
extension Simulation {
    /// The most trackers added at runtime in one run.
    static let addedTrackersMax = 8
    /// No tracker is added while the configuration has this many members.
    static let membersMax = 6
    /// The fewest voters a removal leaves.
    static let votersMin = 3
    /// The admin "connection" of the driver's requests (answers to it are dropped).
    static let adminConnection: UInt64 = 1 << 40

    func scheduleMembershipChange() {
        let delay = UInt64.random(in: 200...3_000, using: &random) * 1_000
        queue.schedule(.membershipChange(isPeriodic: true), atMicros: nowMicros + delay)
    }

    /// Half the time a new leader is asked for a change within 50 ms: often before it commits
    /// an entry of its term, which only a leader with `config-before-term-commit` accepts (once
    /// enough voters answered it that the change would not lose the quorum). Half of those
    /// times it first loses its link to one voter for a while, so its first entries reach
    /// only some of them.
    /// (`host` is the new leader's, lent by the window that elected it: never read it
    /// through `nodes` here.)
    func maybeScheduleMembershipChangeOfNewLeader(_ index: Int, host: TrackerHost) {
        guard options.isMembershipOn, options.isFaultInjectionOn, healedAtMicros == nil else { return }
        if let ambush = membership.ambush, ambush.oldLeader != index {
            springAmbush(index, host: host, ambush)
            return
        }
        guard Bool.random(using: &random) else { return }
        let voters = host.raft.configuration.members.filter { $0.role == .voter }.map { Int($0.id) - 1 }
        if chance(0.5), let other = voters.filter({ $0 != index && nodes.indices.contains($0) }).randomElement(using: &random) {
            coverage.add("membership new leader loses a link")
            cutOneWay(from: index, to: other)
            let back = nowMicros + UInt64.random(in: 50...1_000, using: &random) * 1_000
            queue.schedule(.unclog(from: index, to: other), atMicros: back)
        }
        queue.schedule(.membershipChange(isPeriodic: false), atMicros: nowMicros + UInt64.random(in: 1_000...50_000, using: &random))
    }

    func membershipChange(isPeriodic: Bool) {
        guard healedAtMicros == nil else { return }
        if isPeriodic { scheduleMembershipChange() }
        guard let leader = leaderIndex else { return }
        let configuration = nodes[leader].host.raft.configuration
        let voters = configuration.members.filter { $0.role == .voter }.map(\.id)
        let learners = configuration.members.filter { $0.role == .learner }.map(\.id)
        if isPeriodic, let change = armAmbush(leader: leader, voters: voters) {
            submit(change, to: leader, kind: .remove)
            isolate(leader)
            return
        }
        let crashed = voters.filter { !nodes[Int($0) - 1].isUp }
        let canAdd = membership.added < Self.addedTrackersMax && configuration.members.count < Self.membersMax
        var kinds: [MembershipKind] = []
        if canAdd { kinds.append(.addLearner) }
        if !learners.isEmpty { kinds.append(.promote) }
        if voters.count > Self.votersMin { kinds.append(.remove) }
        if canAdd, !crashed.isEmpty, voters.count >= Self.votersMin { kinds.append(.replace) }
        if membership.isReplacing, canAdd { kinds = [.addLearner] }
        // A new leader is asked to remove a voter, one it cannot reach if there is one (the
        // old leader it replaced, say): Ongaro's 2015 history needs two removals in a row.
        if !isPeriodic, kinds.contains(.remove) { kinds = [.remove] }
        guard let kind = kinds.randomElement(using: &random) else { return }
        let change: ConfigurationChange
        switch kind {
        case .addLearner:
            let index = addTracker()
            membership.isReplacing = false
            change = .addLearner(id: nodes[index].id, address: Self.address(of: nodes[index].id), incarnation: nodes[index].incarnation, fingerprint: [])
        case .promote: change = .promote(id: learners.randomElement(using: &random)!)
        case .remove:
            let unreachable = voters.filter { Int($0) - 1 != leader && (blocked[leader][Int($0) - 1] || !nodes[Int($0) - 1].isUp) }
            change = .remove(id: (unreachable.isEmpty ? voters : unreachable).randomElement(using: &random)!)
        case .replace:
            change = .remove(id: crashed.randomElement(using: &random)!)
            membership.isReplacing = true
        }
        submit(change, to: leader, kind: kind)
        if isPeriodic, chance(0.3) {
            // The leader is cut off (and may crash) within 2 ms: its entry reaches few or none.
            coverage.add("membership leader cut during a change")
            let at = nowMicros + UInt64.random(in: 0...2_000, using: &random)
            queue.schedule(.cutNewLeader(node: leader, epoch: nodes[leader].epoch), atMicros: at)
        }
    }

    /// Puts `change` in the leader's input queue, as `tracker-node member` does.
    func submit(_ change: ConfigurationChange, to leader: Int, kind: MembershipKind) {
        coverage.add("membership \(kind.rawValue)")
        if !nodes[leader].host.raft.hasCommittedInTerm { coverage.add("membership change asked before the leader's term commit") }
        trace.record(nowMicros, TraceCode.membership.rawValue, nodes[leader].id, 0, 0, 0, "ask tracker \(leader + 1) to \(change)")
        let tag = membership.nextTag
        membership.nextTag += 1
        enqueue(leader, .admin(.change(change), ReplyTarget(connection: Self.adminConnection, tag: tag)))
    }

    /// Asks tracker `index` to remove tracker `id` (scripted scenarios), as `tracker-node
    /// member remove` would.
    public func askRemoval(of id: UInt64, at index: Int) {
        let tag = membership.nextTag
        membership.nextTag += 1
        enqueue(index, .admin(.change(.remove(id: id)), ReplyTarget(connection: Self.adminConnection, tag: tag)))
    }

    static func address(of id: NodeID) -> String { "10.0.0.\(id):7000" }

    /// A client that got an answer from a tracker learns the members of that tracker's
    /// configuration, as the production client does from the status it asks on connecting
    /// (`TrackerClient.askMembers`): so clients whose seed list was all removed still find
    /// the cluster.
    /// When the tracker led (it answered the request itself), the client follows its
    /// configuration and forgets removed trackers outside its seed list.
    func learnMembers(_ client: Int, isLeaderAnswer: Bool) {
        let index = Int(clients[client].finder.target.id) - 1
        guard nodes.indices.contains(index), nodes[index].isUp else { return }
        let members = nodes[index].host.raft.configuration.members.map { LeaderFinder.Tracker(id: $0.id, address: Self.address(of: $0.id)) }
        if isLeaderAnswer {
            clients[client].finder.follow(members, keeping: Set(peers))
        } else {
            clients[client].finder.learn(members)
        }
    }

    /// Starts a new tracker (the next id, an empty disk, a new incarnation) waiting to be added.
    func addTracker() -> Int {
        let index = nodes.count
        let id = NodeID(index + 1)
        let disk = makeDisk()
        let incarnation = random.next() | 1
        let host = Self.makeHost(id: id, configuration: .empty, disk: disk, options: hostOptions, appendEntriesMax: appendEntriesMax,
                                 seed: random.next(), plantedBug: options.plantedBug, incarnation: incarnation)
        var node = SimNode(id: id, box: ExecutorBox(HostExecutor(host: host)), disk: disk)
        node.incarnation = incarnation
        nodes.append(node)
        for row in blocked.indices { blocked[row].append(false) }
        blocked.append(Array(repeating: false, count: nodes.count))
        membership.added += 1
        queue.schedule(.tick(node: index), atMicros: nowMicros + UInt64.random(in: 1...Self.tickMicros, using: &random))
        return index
    }

    /// At the heal, trackers that are no longer members are shut down for good, as an
    /// operator does after `member remove` (during the faults they ran on, removed or not,
    /// and could disrupt); the recovery bounds apply to the members. The members: of the
    /// committed configuration of the tracker that committed most, and of every configuration
    /// entry beyond that commit index a tracker holds (a change in flight). Returns the
    /// trackers to heal.
    func retireNonMembers() -> [Int] {
        // Every tracker comes back first, so that every configuration on a disk is seen.
        for index in nodes.indices where !nodes[index].isUp { restart(index) }
        let up = nodes.indices.filter { nodes[$0].isUp }
        guard let reference = up.max(by: { nodes[$0].host.raft.commitIndex < nodes[$1].host.raft.commitIndex }) else {
            return Array(nodes.indices)
        }
        let since = nodes[reference].host.raft.commitIndex
        var members = Set(nodes[reference].host.raft.committedConfiguration.members.map(\.id))
        for index in up where nodes[index].host.raft.configurationIndex > since {
            members.formUnion(nodes[index].host.raft.configuration.members.map(\.id))
        }
        for index in nodes.indices where !members.contains(nodes[index].id) {
            crash(index)
            nodes[index].epoch += 1 // a restart already scheduled is void
            coverage.add("membership tracker retired at the heal")
            trace.record(nowMicros, TraceCode.membership.rawValue, nodes[index].id, 0, 0, 0, "tracker \(index + 1) retired (not a member)")
        }
        return nodes.indices.filter { members.contains(nodes[$0].id) }
    }

    /// The trackers that must have converged at the end: all of them, or with membership
    /// changes the members of the configuration in force on the leader (else on the up
    /// tracker with the longest log).
    var convergingIndices: [Int] {
        guard options.isMembershipOn else { return Array(nodes.indices) }
        let up = nodes.indices.filter { nodes[$0].isUp }
        guard let view = leaderIndex ?? up.max(by: { nodes[$0].host.raft.lastIndex < nodes[$1].host.raft.lastIndex }) else {
            return Array(nodes.indices)
        }
        return nodes[view].host.raft.configuration.members.map { Int($0.id) - 1 }.filter { nodes.indices.contains($0) }
    }
}
