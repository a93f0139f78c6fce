/// What one user holds against its quotas (`Limits.groupsOwnedPerUserMax`,
/// `pendingRequestsPerUserMax`, `filesSharedPerUserMax`).
public struct UserUsage: Equatable, Sendable {
    /// Groups the user owns (created, or handed on by a leaving owner).
    public var groupsOwned = 0
    /// Join requests the user made that wait for their group's owner.
    public var pendingRequests = 0
    /// Files the user shares, completely or partly, over all groups.
    public var filesShared = 0

    /// Makes a usage record.
    public init(groupsOwned: Int = 0, pendingRequests: Int = 0, filesShared: Int = 0) {
        self.groupsOwned = groupsOwned
        self.pendingRequests = pendingRequests
        self.filesShared = filesShared
    }

    var isEmpty: Bool { groupsOwned == 0 && pendingRequests == 0 && filesShared == 0 }
}

extension TrackerState {
    /// What `userID` holds against its quotas.
    public func usage(of userID: String) -> UserUsage { usage[userID] ?? UserUsage() }

    /// Changes one count of a user's usage, dropping the entry once it holds nothing.
    mutating func adjustUsage(_ userID: String, _ count: WritableKeyPath<UserUsage, Int>, by delta: Int) {
        var entry = usage[userID] ?? UserUsage()
        entry[keyPath: count] += delta
        usage[userID] = entry.isEmpty ? nil : entry
    }

    /// Throws `limitReached` unless `userID` may hold one more of `count`.
    func checkQuota(_ userID: String, _ count: KeyPath<UserUsage, Int>, max: Int, _ what: String) throws(TrackerError) {
        guard usage(of: userID)[keyPath: count] < max else {
            throw TrackerError(.limitReached, "at most \(max) \(what) per user")
        }
    }

    /// Every user's usage counted afresh from the groups (sums, so dictionary order cannot
    /// matter): what `usage` must equal.
    func countedUsage() -> [String: UserUsage] {
        var counted: [String: UserUsage] = [:]
        for group in groups.values {
            // `first`, not `owner`: a snapshot being restored may hold a group without members.
            if let owner = group.members.first { counted[owner, default: UserUsage()].groupsOwned += 1 }
            for userID in group.pendingRequests { counted[userID, default: UserUsage()].pendingRequests += 1 }
            for file in group.files.values {
                for sharer in file.sharers { counted[sharer.userID, default: UserUsage()].filesShared += 1 }
            }
        }
        return counted
    }
}
