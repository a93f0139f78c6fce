/// What must always hold; checked by tests after every step and by `restore` on every snapshot.
extension TrackerStateMachine {
    /// Traps if any invariant is broken. Tests and the simulator call it after every step.
    public func checkInvariants() {
        if let why = invariantViolation() { preconditionFailure("tracker invariant broken: \(why)") }
    }

    /// The first broken invariant, or nil when the whole state is coherent.
    public func invariantViolation() -> String? {
        if let why = usersAndSessionsViolation() { return why }
        for id in state.groups.keys.sorted() {
            if let why = groupViolation(id, state.groups[id]!) { return "group \(id): \(why)" }
        }
        if let why = usageViolation() { return why }
        return exactlyOnceViolation()
    }

    /// Each user's quota usage equals a fresh count, and what only the user's own commands add
    /// stays within its quota. (Owned groups may exceed theirs by inheritance: see `Limits`.)
    func usageViolation() -> String? {
        let counted = state.countedUsage()
        let isWithinQuotas = counted.values.allSatisfy {
            $0.pendingRequests <= limits.pendingRequestsPerUserMax && $0.filesShared <= limits.filesSharedPerUserMax
        }
        if counted == state.usage && isWithinQuotas && counted.keys.allSatisfy({ state.users[$0] != nil }) { return nil }
        // Something is wrong: find the first user (sorted, so the message is the same everywhere).
        for userID in Set(counted.keys).union(state.usage.keys).sorted() {
            let usage = state.usage(of: userID)
            if usage != counted[userID] ?? UserUsage() { return "usage of \(userID) is \(usage), counted \(counted[userID] ?? UserUsage())" }
            if state.usage[userID]?.isEmpty == true { return "an empty usage entry for \(userID)" }
            if state.users[userID] == nil { return "usage of unknown user \(userID)" }
            if usage.pendingRequests > limits.pendingRequestsPerUserMax { return "\(userID) has too many pending requests" }
            if usage.filesShared > limits.filesSharedPerUserMax { return "\(userID) shares too many files" }
        }
        return nil
    }

    /// Both exactly-once tables are coherent, no stamp is used twice, and their keys could have
    /// been recorded: session keys carry a valid token hash, login keys a valid user id.
    /// (The messages name no key, so the order dictionaries are visited in cannot reach them.)
    func exactlyOnceViolation() -> String? {
        if let why = sessionClients.violation(capacity: limits.clientsMax, appliedCount: appliedCount) { return "session clients: \(why)" }
        if let why = loginClients.violation(capacity: limits.loginClientsMax, appliedCount: appliedCount) { return "login clients: \(why)" }
        let hashBytes = limits.hashBytesMin...limits.hashBytesMax
        if sessionClients.contains(where: { key, _ in !hashBytes.contains(key.tokenHash.bytes.count) }) {
            return "a cached session client with a bad token hash"
        }
        if loginClients.contains(where: { key, _ in NameRule.violation(of: key.userID, limits: limits) != nil }) {
            return "a cached login client with a bad user id"
        }
        // Within a table stamps strictly increase along the recency list; across the two, no
        // command is recorded twice.
        var loginStamps = Set<UInt64>(minimumCapacity: loginClients.count)
        _ = loginClients.contains { _, entry in loginStamps.insert(entry.lastUsedStamp); return false }
        if sessionClients.contains(where: { _, entry in loginStamps.contains(entry.lastUsedStamp) }) {
            return "two cached results with one stamp"
        }
        return nil
    }

    func usersAndSessionsViolation() -> String? {
        if state.users.count > limits.usersMax { return "too many users" }
        // Sorted, so the first violation found (and the error text) is the same in every process.
        for userID in state.users.keys.sorted() {
            let user = state.users[userID]!
            if NameRule.violation(of: userID, limits: limits) != nil { return "bad user id \(userID)" }
            if !(limits.saltBytesMin...limits.saltBytesMax).contains(user.salt.count) { return "bad salt of \(userID)" }
            if !(limits.hashBytesMin...limits.hashBytesMax).contains(user.passwordHash.count) { return "bad hash of \(userID)" }
        }
        if state.sessions.count != state.sessionOfUser.count { return "sessions and their inverse differ in size" }
        for token in state.sessions.keys.sorted() {
            let session = state.sessions[token]!
            if state.users[session.userID] == nil { return "session of unknown user \(session.userID)" }
            if state.sessionOfUser[session.userID] != token { return "user \(session.userID) has two sessions" }
            if !(limits.hashBytesMin...limits.hashBytesMax).contains(token.bytes.count) { return "bad token hash length" }
            if NameRule.addressViolation(of: session.peerAddress, limits: limits) != nil { return "bad peer address" }
            if !NameRule.isValidFingerprint(session.certificateFingerprint) { return "bad certificate fingerprint" }
        }
        if state.groups.count > limits.groupsMax { return "too many groups" }
        return nil
    }

    func groupViolation(_ groupID: String, _ group: Group) -> String? {
        if NameRule.violation(of: groupID, limits: limits) != nil { return "bad group id" }
        if group.members.isEmpty { return "no members (an empty group must be deleted)" }
        if group.members.count > limits.membersPerGroupMax { return "too many members" }
        if group.pendingRequests.count > limits.pendingRequestsPerGroupMax { return "too many requests" }
        if Set(group.members).count != group.members.count { return "duplicate member" }
        if Set(group.pendingRequests).count != group.pendingRequests.count { return "duplicate request" }
        for userID in group.members + group.pendingRequests where state.users[userID] == nil {
            return "unknown user \(userID)"
        }
        if group.pendingRequests.contains(where: group.isMember) { return "a member is also pending" }
        if group.files.count > limits.filesPerGroupMax { return "too many files" }
        for name in group.files.keys.sorted() {
            if let why = fileViolation(name, group.files[name]!, group) { return "file \(name): \(why)" }
        }
        return nil
    }

    func fileViolation(_ name: String, _ file: StoredFile, _ group: Group) -> String? {
        if file.metadata.name != name { return "stored under another name" }
        if let why = file.metadata.violation(limits: limits) { return why }
        if file.sharers.isEmpty { return "no sharers (it must leave the group)" }
        if file.sharers.count > limits.sharersPerFileMax { return "too many sharers" }
        for (i, sharer) in file.sharers.enumerated() {
            if i > 0, !(file.sharers[i - 1].userID < sharer.userID) { return "sharers not strictly sorted" }
            if !group.isMember(sharer.userID) { return "sharer \(sharer.userID) is not a member" }
            let count = file.metadata.pieceCount
            if let why = PieceBitfield.violation(of: sharer.pieces, pieceCount: count) { return why }
            if count > 0, PieceBitfield.isEmpty(sharer.pieces) { return "sharer \(sharer.userID) holds no piece" }
        }
        return nil
    }
}
