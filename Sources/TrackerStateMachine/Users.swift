/// Users and sessions.
extension TrackerState {
    /// The user id of the session `tokenHash` names.
    func sessionUser(_ tokenHash: TokenHash) throws(TrackerError) -> String {
        guard let session = sessions[tokenHash] else { throw TrackerError(.notLoggedIn) }
        return session.userID
    }

    /// Throws `invalidInput` naming `what` unless `name` follows `NameRule`.
    func checkName(_ name: String, _ what: String, limits: Limits) throws(TrackerError) {
        if let why = NameRule.violation(of: name, limits: limits) { throw TrackerError(.invalidInput, "\(what) \(why)") }
    }

    func checkTokenHash(_ tokenHash: TokenHash, limits: Limits) throws(TrackerError) {
        guard (limits.hashBytesMin...limits.hashBytesMax).contains(tokenHash.bytes.count) else {
            throw TrackerError(.invalidInput, "token hash must be \(limits.hashBytesMin)-\(limits.hashBytesMax) bytes")
        }
    }

    static func leaseExpiry(nowMillis: UInt64, limits: Limits) -> UInt64 {
        let (sum, overflow) = nowMillis.addingReportingOverflow(limits.sessionLeaseMillis)
        return overflow ? UInt64.max : sum
    }

    mutating func createUser(_ userID: String, salt: [UInt8], passwordHash: [UInt8], limits: Limits) throws(TrackerError) -> TrackerReply {
        try checkName(userID, "user id", limits: limits)
        guard (limits.saltBytesMin...limits.saltBytesMax).contains(salt.count) else {
            throw TrackerError(.invalidInput, "salt must be \(limits.saltBytesMin)-\(limits.saltBytesMax) bytes")
        }
        guard (limits.hashBytesMin...limits.hashBytesMax).contains(passwordHash.count) else {
            throw TrackerError(.invalidInput, "password hash must be \(limits.hashBytesMin)-\(limits.hashBytesMax) bytes")
        }
        guard users[userID] == nil else { throw TrackerError(.userExists, userID) }
        guard users.count < limits.usersMax else { throw TrackerError(.limitReached, "at most \(limits.usersMax) users") }
        users[userID] = User(salt: salt, passwordHash: passwordHash)
        return .done
    }

    /// One session per user: a new login replaces the user's previous session, whose token
    /// stops working. A crashed client's user can thus log in again at once, and a user's shares
    /// are offered at exactly one peer address.
    mutating func openSession(_ userID: String, tokenHash: TokenHash, peerAddress: String, certificateFingerprint: [UInt8] = [],
                              nowMillis: UInt64, limits: Limits) throws(TrackerError) -> TrackerReply {
        try checkName(userID, "user id", limits: limits)
        try checkTokenHash(tokenHash, limits: limits)
        if let why = NameRule.addressViolation(of: peerAddress, limits: limits) {
            throw TrackerError(.invalidInput, "peer address \(why)")
        }
        guard NameRule.isValidFingerprint(certificateFingerprint) else {
            throw TrackerError(.invalidInput, "certificate fingerprint must be \(NameRule.fingerprintBytes) bytes or empty")
        }
        guard users[userID] != nil else { throw TrackerError(.noSuchUser, userID) }
        guard sessions[tokenHash] == nil else { throw TrackerError(.tokenInUse) }
        if let previous = sessionOfUser[userID] { sessions[previous] = nil }
        let session = Session(userID: userID, peerAddress: peerAddress,
                              leaseExpiryMillis: Self.leaseExpiry(nowMillis: nowMillis, limits: limits),
                              certificateFingerprint: certificateFingerprint)
        sessions[tokenHash] = session
        sessionOfUser[userID] = tokenHash
        return .session(session.info)
    }

    mutating func keepAlive(_ tokenHash: TokenHash, nowMillis: UInt64, limits: Limits) throws(TrackerError) -> TrackerReply {
        guard var session = sessions[tokenHash] else { throw TrackerError(.notLoggedIn) }
        // A lease never shrinks: a keepalive stamped by a leader whose clock is behind is harmless.
        session.leaseExpiryMillis = max(session.leaseExpiryMillis, Self.leaseExpiry(nowMillis: nowMillis, limits: limits))
        sessions[tokenHash] = session
        return .session(session.info)
    }

    mutating func logout(_ tokenHash: TokenHash) throws(TrackerError) -> TrackerReply {
        let userID = try sessionUser(tokenHash)
        sessions[tokenHash] = nil
        sessionOfUser[userID] = nil
        return .done
    }

    /// Ends the listed sessions that still exist (the leader decided their leases ran out).
    mutating func expireSessions(_ tokenHashes: [TokenHash]) -> TrackerReply {
        var count: UInt32 = 0
        for tokenHash in tokenHashes {
            guard let session = sessions.removeValue(forKey: tokenHash) else { continue }
            if sessionOfUser[session.userID] == tokenHash { sessionOfUser[session.userID] = nil }
            count += 1
        }
        return .expiredSessions(count: count)
    }
}
