extension RaftNode {
    /// Ticks since this node last heard from a leader (or, as a leader, since its election
    /// timer was reset); a follower whose count passes a couple of heartbeats may tell clients
    /// there is no leader instead of sending them to one that has gone silent.
    public var ticksSinceLeaderHeard: Int { electionElapsed }

    /// Whether a follower heard its leader within `ticks` ticks.
    public func hasHeardLeader(withinTicks ticks: Int) -> Bool {
        leader != 0 && electionElapsed <= ticks
    }
}
