/// Groups: creation, join requests, leaving.
extension TrackerState {
    /// The group named `groupID`, after checking the name.
    func existingGroup(_ groupID: String, limits: Limits) throws(TrackerError) -> Group {
        try checkName(groupID, "group id", limits: limits)
        guard let group = groups[groupID] else { throw TrackerError(.noSuchGroup, groupID) }
        return group
    }

    /// The caller's user id and the group, when the caller is logged in and a member.
    func memberAndGroup(_ tokenHash: TokenHash, _ groupID: String, limits: Limits) throws(TrackerError) -> (String, Group) {
        let userID = try sessionUser(tokenHash)
        let group = try existingGroup(groupID, limits: limits)
        guard group.isMember(userID) else { throw TrackerError(.notMember, groupID) }
        return (userID, group)
    }

    mutating func createGroup(_ tokenHash: TokenHash, groupID: String, limits: Limits) throws(TrackerError) -> TrackerReply {
        let userID = try sessionUser(tokenHash)
        try checkName(groupID, "group id", limits: limits)
        guard groups[groupID] == nil else { throw TrackerError(.groupExists, groupID) }
        guard groups.count < limits.groupsMax else { throw TrackerError(.limitReached, "at most \(limits.groupsMax) groups") }
        try checkQuota(userID, \.groupsOwned, max: limits.groupsOwnedPerUserMax, "groups owned")
        groups[groupID] = Group(members: [userID])
        adjustUsage(userID, \.groupsOwned, by: 1)
        return .done
    }

    mutating func joinGroup(_ tokenHash: TokenHash, groupID: String, limits: Limits) throws(TrackerError) -> TrackerReply {
        let userID = try sessionUser(tokenHash)
        let group = try existingGroup(groupID, limits: limits)
        guard !group.isMember(userID) else { throw TrackerError(.alreadyMember, groupID) }
        guard !group.pendingRequests.contains(userID) else { throw TrackerError(.alreadyPending, groupID) }
        guard group.pendingRequests.count < limits.pendingRequestsPerGroupMax else {
            throw TrackerError(.limitReached, "at most \(limits.pendingRequestsPerGroupMax) pending requests per group")
        }
        try checkQuota(userID, \.pendingRequests, max: limits.pendingRequestsPerUserMax, "pending join requests")
        groups[groupID]!.pendingRequests.append(userID)
        adjustUsage(userID, \.pendingRequests, by: 1)
        return .done
    }

    mutating func acceptRequest(_ tokenHash: TokenHash, groupID: String, userID: String,
                                limits: Limits) throws(TrackerError) -> TrackerReply {
        let callerID = try sessionUser(tokenHash)
        let group = try existingGroup(groupID, limits: limits)
        try checkName(userID, "user id", limits: limits)
        guard group.owner == callerID else { throw TrackerError(.notOwner, groupID) }
        guard let index = group.pendingRequests.firstIndex(of: userID) else {
            throw TrackerError(.noSuchRequest, "\(userID) in \(groupID)")
        }
        guard group.members.count < limits.membersPerGroupMax else {
            throw TrackerError(.limitReached, "at most \(limits.membersPerGroupMax) members per group")
        }
        groups[groupID]!.pendingRequests.remove(at: index)
        groups[groupID]!.members.append(userID)
        adjustUsage(userID, \.pendingRequests, by: -1)
        return .done
    }

    /// The leaver's shares in the group end (files left with no sharer go); the next
    /// longest-standing member becomes owner; a group left empty is deleted with its files and
    /// requests. A caller whose join request is pending withdraws it instead.
    mutating func leaveGroup(_ tokenHash: TokenHash, groupID: String, limits: Limits) throws(TrackerError) -> TrackerReply {
        let userID = try sessionUser(tokenHash)
        let group = try existingGroup(groupID, limits: limits)
        if let index = group.pendingRequests.firstIndex(of: userID) {
            groups[groupID]!.pendingRequests.remove(at: index)
            adjustUsage(userID, \.pendingRequests, by: -1)
            return .done
        }
        guard group.isMember(userID) else { throw TrackerError(.notMember, groupID) }
        let sharedNames = group.files.keys.filter { group.files[$0]!.sharerIndex(of: userID) != nil }
        adjustUsage(userID, \.filesShared, by: -sharedNames.count)
        guard group.members.count > 1 else {
            adjustUsage(userID, \.groupsOwned, by: -1)
            for requester in group.pendingRequests { adjustUsage(requester, \.pendingRequests, by: -1) }
            groups[groupID] = nil
            return .done
        }
        if group.owner == userID {
            adjustUsage(userID, \.groupsOwned, by: -1)
            adjustUsage(group.members[1], \.groupsOwned, by: 1)
        }
        groups[groupID]!.members.removeAll { $0 == userID }
        for name in sharedNames {
            groups[groupID]!.files[name]!.sharers.removeAll { $0.userID == userID }
            if groups[groupID]!.files[name]!.sharers.isEmpty { groups[groupID]!.files[name] = nil }
        }
        return .done
    }
}
