import TrackerStateMachine

/// How a create (of a user or group) ended, as its client saw it.
enum CreateOutcome: Sendable {
    /// Told it was created.
    case ok
    /// Told it already existed.
    case exists
    /// Told it failed for another reason (nothing should have changed).
    case failed
    /// Never told: the client gave up. It may or may not have happened.
    case unknown
}

/// One create in the history.
struct CreateRecord: Sendable {
    var client: Int
    var userID: String
    var key: String
    var isContested: Bool
    var invokedMicros: UInt64
    var completedMicros: UInt64
    var outcome: CreateOutcome
}

/// What clients were told, and when: the input of the linearizability, stale-read and
/// exactly-once checkers.
struct ClientHistory: Sendable {
    var creates: [CreateRecord] = []
    /// Every operation a client finished (answered or given up), for the linearizability check.
    var operations: [TrackerSpec.Operation] = []
    /// What the end-of-run linearizability check found.
    var linearizability: LinearizabilityReport?
    /// Groups whose creation was acknowledged, in acknowledgement order.
    var ackedGroups: [(key: String, ackMicros: UInt64, owner: String)] = []
    /// Files whose upload was acknowledged.
    var ackedUploads: [(group: String, file: String, owner: String)] = []
    /// Times of every acknowledged write, in order.
    var writeAckMicros: [UInt64] = []
    var opsCompleted = 0
    var opsUnknown = 0
    var retries = 0
    /// Operations given up (unknown) after the heal.
    var unknownAfterHeal = 0

    /// A `list_groups` page must hold every group acknowledged before the read was issued, up
    /// to its last group when more follow.
    func staleRead(page: Page<GroupSummary>, invokedMicros: UInt64) -> String? {
        let groups = page.items
        for acked in ackedGroups {
            guard acked.ackMicros < invokedMicros else { break }
            if let last = page.nextCursor, acked.key > last { continue }
            // `groups` is sorted by id: binary search.
            var low = 0
            var high = groups.count
            while low < high {
                let mid = (low + high) / 2
                if groups[mid].groupID < acked.key { low = mid + 1 } else { high = mid }
            }
            guard low < groups.count, groups[low].groupID == acked.key else {
                return "list_groups issued at \(invokedMicros / 1_000)ms misses group \(acked.key) acknowledged at \(acked.ackMicros / 1_000)ms"
            }
            guard groups[low].ownerID == acked.owner else { return "group \(acked.key) owned by \(groups[low].ownerID), creator was \(acked.owner)" }
        }
        return nil
    }

    /// Uniqueness: at most one create per key succeeds; an "exists" answer needs a create that
    /// succeeded or may have (unknown) and began before the answer; a create of a key only one
    /// client ever uses can never be answered "exists" (that is a command applied twice).
    /// `exists` tells whether the key is in the final state, with its owner for groups.
    func uniquenessViolations(exists: (String) -> (Bool, String?)) -> [String] {
        var byKey: [String: [CreateRecord]] = [:]
        for record in creates { byKey[record.key, default: []].append(record) }
        var found: [String] = []
        for key in byKey.keys.sorted() {
            let records = byKey[key]!
            let oks = records.filter { if case .ok = $0.outcome { true } else { false } }
            let unknowns = records.filter { if case .unknown = $0.outcome { true } else { false } }
            if oks.count > 1 { found.append("\(key): \(oks.count) clients were told they created it") }
            for (position, record) in records.enumerated() {
                guard case .exists = record.outcome else { continue }
                if !record.isContested { found.append("\(key): its only creator was told it exists (applied twice)") }
                let hasCause = records.indices.contains { other in
                    guard other != position, records[other].invokedMicros < record.completedMicros else { return false }
                    switch records[other].outcome {
                    case .ok, .unknown: return true
                    case .exists, .failed: return false
                    }
                }
                if !hasCause { found.append("\(key): told exists with no earlier create that succeeded or may have") }
            }
            let (isPresent, owner) = exists(key)
            if let ok = oks.first {
                if !isPresent { found.append("\(key): acknowledged create is missing from the final state") }
                if let owner, owner != ok.userID { found.append("\(key): owned by \(owner), acknowledged creator \(ok.userID)") }
            } else if isPresent && unknowns.isEmpty {
                found.append("\(key): in the final state, but every create of it was refused")
            }
        }
        return found
    }
}
