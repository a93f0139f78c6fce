import TrackerHosting

/// How often a run took each interesting path: faults injected and the rare events the
/// simulator exists to reach. A kind that never happens across a sweep is a gap in the
/// simulator, not a pass.
public struct Coverage: Sendable, Equatable {
    /// Counts by name, in a fixed order (never dictionary order).
    public private(set) var rows: [(name: String, count: Int)]

    /// The events every sweep must reach at least once.
    public static let requiredEvents = [
        "window with several inputs", "batch sent before persist", "snapshot installed while a local job ran",
        "stale snapshot job ignored", "stale snapshot dropped", "snapshot answer lost", "login retried after a lost answer",
        "login answered from its session", "truncation before a crash", "torn write", "crash",
    ]

    /// Every counter at zero: the required events, then one row per fault kind.
    public init() {
        rows = Self.requiredEvents.map { ($0, 0) } + FaultKind.allCases.map { ("fault \($0)", 0) }
            + [("snapshot behind the commit index", 0), ("snapshot taken", 0), ("snapshot installed", 0), ("unknown session refused", 0),
               ("password admission full", 0), ("restart", 0), ("stale snapshot restored", 0), ("two snapshots in one window", 0),
               ("stale snapshot after an accepted one in one window", 0)]
            + MembershipKind.allCases.map { ("membership \($0.rawValue)", 0) }
    }

    /// Adds `count` to the counter `name` (added at the end if new).
    public mutating func add(_ name: String, _ count: Int = 1) {
        guard count != 0 else { return }
        if let i = rows.firstIndex(where: { $0.name == name }) {
            rows[i].count += count
        } else {
            rows.append((name, count))
        }
    }

    /// The count of `name`.
    public func count(_ name: String) -> Int { rows.first { $0.name == name }?.count ?? 0 }

    /// Adds every counter of `other`.
    public mutating func merge(_ other: Coverage) {
        for row in other.rows { add(row.name, row.count) }
    }

    /// Folds in what a tracker process counted before it ended.
    mutating func absorb(host: TrackerHost.HostCounters, executor: HostExecutor.ExecutorCounters) {
        add("batch sent before persist", executor.sentBeforePersist)
        add("stale snapshot job ignored", executor.snapshotJobsStale)
        add("snapshot installed", executor.snapshotsInstalled)
        add("snapshot installed while a local job ran", host.snapshotsInstalledDuringJob)
        add("stale snapshot dropped", host.snapshotsDroppedByRaft)
        add("snapshot behind the commit index", host.snapshotsBehindCommit)
        add("login answered from its session", host.loginsAnsweredFromSession)
        add("unknown session refused", host.refusedUnknownSession)
        add("password admission full", host.refusedPasswordAdmission)
    }

    /// The required events that never happened.
    public var missing: [String] { Self.requiredEvents.filter { count($0) == 0 } }

    public static func == (a: Coverage, b: Coverage) -> Bool {
        a.rows.map(\.name) == b.rows.map(\.name) && a.rows.map(\.count) == b.rows.map(\.count)
    }
}

