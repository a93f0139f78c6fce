import TrackerProtocol

/// The series tracker-node serves at `GET /metrics`, in a fixed order, from the published
/// samples (pure: the same samples give the same text).
enum MetricsFamilies {
    /// Every role, in the order their `tracker_raft_role` series appear.
    static let roles: [TrackerRole] = [.follower, .preCandidate, .candidate, .leader]

    /// The families for `loop` (nil before the event loop's first publication: only the
    /// shell's series) and `shell`.
    static func all(loop: LoopSample?, shell: ShellSample) -> [MetricFamily] {
        (loop.map(raft) ?? []) + (loop.map(service) ?? []) + shellFamilies(shell)
    }

    private static func gauge(_ name: String, _ help: String, _ value: UInt64) -> MetricFamily {
        MetricFamily(name: name, help: help, kind: .gauge, samples: [MetricSample(.integer(value))])
    }

    private static func counter(_ name: String, _ help: String, _ value: UInt64) -> MetricFamily {
        MetricFamily(name: name, help: help, kind: .counter, samples: [MetricSample(.integer(value))])
    }

    private static func histogram(_ name: String, _ help: String, _ value: Histogram) -> MetricFamily {
        MetricFamily(name: name, help: help, kind: .histogram, samples: [MetricSample(.histogram(value))])
    }

    private static func count(_ value: Int) -> UInt64 { UInt64(max(0, value)) }

    private static func raft(_ s: LoopSample) -> [MetricFamily] {
        let roleSamples = roles.map { MetricSample(labels: [("role", "\($0)")], .integer($0 == s.role ? 1 : 0)) }
        return [
            MetricFamily(name: "tracker_raft_role", help: "1 for this tracker's current Raft role, 0 for the others.",
                         kind: .gauge, samples: roleSamples),
            gauge("tracker_raft_term", "The current Raft term.", s.term),
            gauge("tracker_raft_leader", "The id of the leader this tracker knows in its term (0: none).", s.leader),
            gauge("tracker_raft_commit_index", "The highest log index known to be committed.", s.commitIndex),
            gauge("tracker_raft_applied_index", "The highest log index applied to the state machine.", s.appliedIndex),
            gauge("tracker_raft_last_index", "The index of the last entry in this tracker's log.", s.lastIndex),
            counter("tracker_raft_leader_changes_total", "Leaders seen (a new leader, or a new term's leader) since start.",
                    s.loop.leaderChanges),
            counter("tracker_raft_proposals_total", "Entries this tracker appended to its log as leader since start.",
                    s.loop.proposals),
            counter("tracker_raft_committed_entries_total", "Entries this tracker saw committed since start.",
                    s.loop.committedEntries),
            counter("tracker_raft_applied_entries_total", "Entries this tracker applied since start.", s.loop.appliedEntries),
            histogram("tracker_fsync_duration_seconds", "Time to write and fsync a batch of log entries and hard state.",
                      s.loop.fsyncSeconds),
            histogram("tracker_apply_duration_seconds", "Time to apply a batch of committed entries and serve its reads.",
                      s.loop.applySeconds),
            MetricFamily(name: "tracker_follower_lag_entries",
                         help: "On the leader: entries each follower's log is behind the leader's last index.",
                         kind: .gauge, samples: s.followerLag.map { MetricSample(labels: [("follower", "\($0.id)")], .integer($0.entries)) }),
            counter("tracker_raft_messages_refused_by_core_total", "Raft messages the core refused after the boundary checks.",
                    s.refusedByCore),
        ]
    }

    private static func service(_ s: LoopSample) -> [MetricFamily] {
        [
            MetricFamily(name: "tracker_pending_requests", help: "Client requests waiting for their answer at this tracker.",
                         kind: .gauge, samples: [MetricSample(labels: [("kind", "request")], .integer(count(s.pendingRequests))),
                                                 MetricSample(labels: [("kind", "password")], .integer(count(s.pendingPasswordRequests)))]),
            gauge("tracker_sessions_online", "Open sessions in this tracker's applied state.", count(s.sessionsOnline)),
            gauge("tracker_snapshot_index", "The log index of the newest durable snapshot (0: none).", s.snapshotIndex),
            gauge("tracker_snapshot_bytes", "The size of the newest durable snapshot.", count(s.snapshotBytes)),
            counter("tracker_snapshots_installed_total", "Snapshots received from the leader and installed since start.",
                    count(s.snapshotsInstalled)),
        ]
    }

    private static func shellFamilies(_ s: ShellSample) -> [MetricFamily] {
        [
            gauge("tracker_client_connections", "Client connections open now.", count(s.clientConnections)),
            counter("tracker_connections_refused_total", "Connections refused before their handshake (budget or address share).",
                    s.connectionsRefused),
            counter("tracker_handshakes_refused_total", "Handshakes that failed or came from a role or id not allowed.",
                    s.handshakesRefused),
            counter("tracker_raft_messages_refused_total", "Raft messages refused at the boundary, before the core.",
                    s.messagesRefused),
            histogram("tracker_snapshot_duration_seconds", "Time to serialize and write a snapshot this tracker took.",
                      s.snapshotSeconds),
        ]
    }
}
