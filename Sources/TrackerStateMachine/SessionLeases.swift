extension TrackerState {
    /// Whether some session's lease runs out at or before `nowMillis`, so that the leader has
    /// something to expire. Reads every session: call it about once a second, not per request.
    public func hasSessionExpiring(atOrBefore nowMillis: UInt64) -> Bool {
        sessions.values.contains { $0.leaseExpiryMillis <= nowMillis }
    }
}
