extension TrackerState {
    /// The sessions whose lease has run out by `nowMillis`: a session's lease runs to the
    /// latest of its login lease, `floorMillis` (a new leader gives every session a full lease)
    /// and `renewedUntil` (the leader's in-memory renewals). Sorted by token hash bytes, at
    /// most `limit` of them. Reads every session: call it about once a second.
    public func expiredSessions(nowMillis: UInt64, floorMillis: UInt64, limit: Int,
                                renewedUntil: (TokenHash) -> UInt64?) -> [TokenHash] {
        var expired: [TokenHash] = []
        for (tokenHash, session) in sessions {
            let until = max(session.leaseExpiryMillis, floorMillis, renewedUntil(tokenHash) ?? 0)
            if until <= nowMillis { expired.append(tokenHash) }
        }
        expired.sort { $0.bytes.lexicographicallyPrecedes($1.bytes) }
        return Array(expired.prefix(limit))
    }
}
