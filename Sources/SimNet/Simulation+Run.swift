
/// What one seed's run found.
public struct SeedReport: Sendable {
    /// The seed.
    public var seed: UInt64
    /// The first broken invariant, if any.
    public var violation: Violation?
    /// Hash of the whole event trace.
    public var traceHash: UInt64
    /// Simulated milliseconds run.
    public var simMillis: UInt64
    /// Events handled.
    public var eventCount: UInt64
    /// Client operations finished (answered or given up).
    public var opsCompleted: Int
    /// Client operations given up with an unknown outcome.
    public var opsUnknown: Int
    /// Writes acknowledged to clients.
    public var writesAcked: Int
    /// Leaders elected.
    public var leadersElected: Int
    /// The fault rates and host timing this seed drew.
    public var profile: String
    /// How often each interesting path was taken.
    public var coverage: Coverage
}

/// The randomized run (swarm faults, client load, heal, recovery checks) and the final checks.
extension Simulation {
    /// Runs the whole randomized schedule of this seed: faults and load until 10 simulated
    /// seconds before the end, then the heal, recovery and the final checks.
    public func runRandomized() -> SeedReport {
        let totalMillis = UInt64(options.simSeconds) * 1_000
        let healMillis = totalMillis - UInt64(SimOptions.recoverySeconds) * 1_000
        clientsStopMicros = (totalMillis - 2_000) * 1_000
        isLivenessMode = options.isLivenessMode ?? (options.isFaultInjectionOn && !options.isMembershipOn && Bool.random(using: &random))
        if options.isFaultInjectionOn {
            profile = FaultProfile.draw(using: &random)
            drawnProfile = profile
            trace.record(nowMicros, TraceCode.partition.rawValue, 0, 0, 0, 0, "profile \(profile.summary)")
            scheduleInjection()
        }
        if options.isMembershipOn { scheduleMembershipChange() }
        queue.schedule(.heal, atMicros: healMillis * 1_000)
        queue.schedule(.markConvergenceTarget, atMicros: (totalMillis - 1_000) * 1_000)
        run(untilMillis: totalMillis)
        if !hasViolation { checkFinalState() }
        return report
    }

    /// What the run found so far.
    public var report: SeedReport {
        SeedReport(seed: seed, violation: violations.first, traceHash: trace.hash, simMillis: nowMicros / 1_000,
                   eventCount: eventCount, opsCompleted: history.opsCompleted, opsUnknown: history.opsUnknown,
                   writesAcked: history.writeAckMicros.count, leadersElected: checker.leadersElected,
                   profile: drawnProfile.summary + " " + timing.summary + (isLivenessMode ? " liveness" : ""),
                   coverage: finalCoverage)
    }

    /// The coverage so far, with what the running trackers counted.
    public var finalCoverage: Coverage {
        var total = coverage
        for node in nodes where node.isUp {
            total.absorb(host: node.box.executor.host.counters, executor: node.box.executor.counters)
            if node.disk.hasTruncatedSinceCrash { total.add("truncation (no crash yet)") }
        }
        return total
    }

    func scheduleInjection() {
        let delay = UInt64.random(in: 1...(2 * profile.faultIntervalMeanMillis), using: &random) * 1_000
        queue.schedule(.injectFault, atMicros: nowMicros + delay)
    }

    /// One random fault of a kind this seed enabled.
    func injectFault() {
        guard healedAtMicros == nil, let kind = profile.enabledKinds.randomElement(using: &random) else { return }
        scheduleInjection()
        coverage.add("fault \(kind)")
        let count = nodes.count
        let node = Int.random(in: 0..<count, using: &random)
        let other = (node + Int.random(in: 1..<count, using: &random)) % count
        switch kind {
        case .partition:
            partition(nodes.indices.filter { _ in Bool.random(using: &random) })
        case .oneWayCut: cutOneWay(from: node, to: other)
        case .isolateLeader: if let leader = leaderIndex { isolate(leader) }
        case .partialPartition: cut(node, other)
        case .clog: clog(node, withinMillis: UInt64.random(in: 100...3_000, using: &random))
        case .crash:
            crash(node)
            scheduleRestart(node)
        case .crashTearing:
            if nodes[node].isUp { nodes[node].tearsNextWrite = true }
        case .diskStall:
            if nodes[node].isUp { nodes[node].stallNextSyncMicros = UInt64.random(in: 100_000...2_000_000, using: &random) }
        case .crashTearingTruncation:
            if nodes[node].isUp { nodes[node].tearsNextTruncatingWrite = true }
        case .crashDuringSnapshot:
            if nodes[node].isUp { nodes[node].tearsNextSnapshot = true }
        case .pause:
            pause(node)
            let resumeAt = nowMicros + UInt64.random(in: 50...2_000, using: &random) * 1_000
            queue.schedule(.resume(node: node, epoch: nodes[node].epoch), atMicros: resumeAt)
        case .clockSkew:
            guard profile.clockSkewMax > 0 else { return }
            setClockRate(node, rate: 1 + Double.random(in: -profile.clockSkewMax...profile.clockSkewMax, using: &random))
        case .healNetwork: healNetwork()
        case .cutNewLeader: isCuttingNextLeader = true
        case .cleanRestart: startCleanRestart(node)
        }
    }

    /// Called when tracker `index` wins an election: if the injector armed it, cut the new
    /// leader off within 20 ms, so its first appends reach only some followers.
    func maybeScheduleCutOfNewLeader(_ index: Int) {
        guard isCuttingNextLeader, healedAtMicros == nil else { return }
        isCuttingNextLeader = false
        let delay = UInt64.random(in: 0...20_000, using: &random)
        queue.schedule(.cutNewLeader(node: index, epoch: nodes[index].epoch), atMicros: nowMicros + delay)
    }

    /// Cuts a new leader off from every other tracker; half the time it also crashes.
    func cutNewLeader(_ index: Int) {
        guard healedAtMicros == nil, nodes[index].isUp else { return }
        isolate(index)
        if Bool.random(using: &random) {
            crash(index)
            scheduleRestart(index)
        }
    }

    func scheduleRestart(_ node: Int) {
        let restartAt = nowMicros + UInt64.random(in: 100...5_000, using: &random) * 1_000
        queue.schedule(.restart(node: node, epoch: nodes[node].epoch), atMicros: restartAt)
    }

    /// Ends the faults, then the recovery deadlines start. Normally everything heals: links
    /// back, crashed trackers restarted, paused ones resumed, clocks exact, a quiet network. In
    /// liveness mode (TigerBeetle's VOPR does the same after its safety phase) only a random
    /// majority, the core, is healed and connected; the others stay crashed or cut off, and the
    /// core alone must finish every client operation and converge.
    public func heal() {
        healedAtMicros = nowMicros
        profile = .calm
        if isLivenessMode {
            healCore()
            return
        }
        trace.record(nowMicros, TraceCode.heal.rawValue, 0, 0, 0, 0, "heal everything")
        healNetwork()
        healNodes(options.isMembershipOn ? retireNonMembers() : Array(nodes.indices))
    }

    /// Liveness mode's heal: a majority core is healed; the rest stay down or isolated.
    func healCore() {
        let quorum = nodes.count / 2 + 1
        // With a witness, the core is full trackers: a core of one full tracker and the witness
        // may rightly wait forever (that tracker may lack what was committed with the witness).
        var order = nodes.indices.filter { initialConfiguration.role(of: nodes[$0].id) != .witness }
        order.shuffle(using: &random)
        let core = Array(order.prefix(quorum)).sorted()
        livenessCore = core
        coverage.add("liveness mode")
        trace.record(nowMicros, TraceCode.heal.rawValue, UInt64(core.count), 0, 0, 0, "heal the core \(core.map { $0 + 1 }) only")
        healNetwork()
        for outside in nodes.indices where !core.contains(outside) {
            if Bool.random(using: &random) { crash(outside) } else { isolate(outside) }
        }
        healNodes(core)
    }

    func healNodes(_ indices: some Collection<Int>) {
        for index in indices {
            nodes[index].tearsNextWrite = false
            nodes[index].tearsNextTruncatingWrite = false
            nodes[index].stallNextSyncMicros = 0
            nodes[index].tearsNextSnapshot = false
            if nodes[index].tickMicros != Self.tickMicros { setClockRate(index, rate: 1) }
            if !nodes[index].isUp { restart(index) }
            if nodes[index].isPaused { resume(index) }
        }
        // A sync already stalled when the heal comes is not cut short (a disk that stopped
        // answering answers when it does): the bounds start once the healed trackers are idle.
        var settledMicros = nowMicros
        for index in indices where nodes[index].isUp { settledMicros = max(settledMicros, nodes[index].busyUntilMicros) }
        // A command pending at the heal is retried until the recovery deadline checks it.
        for client in clients.indices where clients[client].current != nil {
            clients[client].current!.deadlineMicros = max(clients[client].current!.deadlineMicros, settledMicros + Self.pendingAfterHealMicros)
        }
        queue.schedule(.checkLeaderAfterHeal, atMicros: settledMicros + leaderAfterHealBoundMicros)
        queue.schedule(.checkPendingAfterHeal, atMicros: settledMicros + Self.pendingAfterHealMicros)
    }
}

extension Simulation {
    /// Ends a scripted scenario: heals everything, lets clients finish what they started
    /// (no new operations), then runs the final checks. Returns whether every check passed.
    @discardableResult
    public func finishScenario() -> Bool {
        if healedAtMicros == nil { heal() }
        clientsStopMicros = nowMicros
        run(untilMillis: nowMillis + Self.pendingAfterHealMicros / 1_000 + 1_000)
        convergenceTarget = UInt64(checker.committedTerms.count)
        run(untilMillis: nowMillis + 1_000)
        if !hasViolation { checkFinalState() }
        return !hasViolation
    }
}
