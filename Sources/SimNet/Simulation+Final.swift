import TrackerStateMachine

/// The end-of-run checks: every replica caught up and equal, every acknowledged command in the
/// final state exactly once, the uniqueness history linearizable, and then every client
/// operation linearizable against `TrackerSpec`.
extension Simulation {
    static let probeUserID = "~probe"
    static let probeAddress = "10.9.9.9:1"

    /// Runs the final checks; call once the run is over.
    public func checkFinalState() {
        guard let reference = checkConvergence() else { return }
        let groups = Self.probeGroups(reference)
        let found = history.uniquenessViolations { key in
            if key.hasPrefix("group:") {
                let owner = groups[String(key.dropFirst(6))]
                return (owner != nil, owner)
            }
            let userID = String(key.dropFirst(5))
            return (reference.query(.credentials(userID: userID)).isOK, nil)
        }
        if let first = found.first {
            fail("acknowledged commands exactly once, linearizable", first)
            return
        }
        checkUploads(in: reference)
        if !hasViolation { checkLinearizability() }
    }

    /// Every replica is up, has applied what was committed a second before the end, and
    /// replicas at the same index hold the same state. Returns the most advanced replica's state.
    func checkConvergence() -> TrackerStateMachine? {
        var byApplied: [UInt64: TrackerStateMachine] = [:]
        var best: (applied: UInt64, machine: TrackerStateMachine)?
        for index in livenessCore ?? convergingIndices {
            let host = nodes[index].host
            guard nodes[index].isUp else {
                fail("replicas converge", "tracker \(index + 1) is down at the end")
                return nil
            }
            if initialConfiguration.role(of: nodes[index].id) == .witness {
                // A witness holds no log and applies nothing, whatever was written.
                if host.raft.lastIndex != 0 || !nodes[index].disk.current.entries.isEmpty || host.raft.appliedIndex != 0 {
                    fail("a witness stores no log", "tracker \(index + 1) holds \(host.raft.lastIndex) entries")
                    return nil
                }
                continue
            }
            let applied = host.raft.appliedIndex
            guard applied >= convergenceTarget else {
                fail("replicas converge", "tracker \(index + 1) applied \(applied) of \(convergenceTarget) committed entries")
                return nil
            }
            if let other = byApplied[applied], other != host.machine {
                fail("replicas apply identical sequences", "tracker \(index + 1) state differs from another at applied index \(applied)")
                return nil
            }
            byApplied[applied] = host.machine
            if best == nil || applied > best!.applied { best = (applied, host.machine) }
        }
        return best?.machine
    }

    /// Every acknowledged upload is in its group's file list.
    func checkUploads(in machine: TrackerStateMachine) {
        var probe = machine
        var sessions: [String: TokenHash] = [:]
        for upload in history.ackedUploads {
            let hash = sessions[upload.owner] ?? Self.openProbeSession(&probe, userID: upload.owner)
            sessions[upload.owner] = hash
            guard Self.listsFile(probe, hash, upload.group, upload.file) else {
                fail("acknowledged commands exactly once, linearizable", "acknowledged upload \(upload.group)/\(upload.file) is missing")
                return
            }
        }
    }

    /// Whether the real `listFiles` query, page after page, lists `file` in `group`.
    static func listsFile(_ machine: TrackerStateMachine, _ hash: TokenHash, _ group: String, _ file: String) -> Bool {
        let files = try? Page<FileSummary>.collect(upTo: machine.state.fileCount) { page in
            guard case let .ok(.files(files)) = machine.query(.listFiles(tokenHash: hash, groupID: group, page: page)) else {
                throw PagingError(cursor: page.after ?? "")
            }
            return files
        }
        return files?.items.contains { $0.name == file } ?? false
    }

    /// Opens a session for `userID` on a copy of a final state, through the real commands.
    static func openProbeSession(_ machine: inout TrackerStateMachine, userID: String) -> TokenHash {
        let hash = TokenHash(Array("probe-session-\(userID)".utf8) + [UInt8](repeating: 0x3C, count: 16))
        let command = TrackerCommand.openSession(userID: userID, tokenHash: hash, peerAddress: probeAddress, nowMillis: 0)
        _ = machine.apply(CommandEnvelope(clientID: 0, sequence: 0, command: command))
        return hash
    }

    /// Every group of a final state with its owner, read through the real `listGroups` query.
    static func probeGroups(_ machine: TrackerStateMachine) -> [String: String] {
        var probe = machine
        let salt = [UInt8](repeating: 1, count: 8)
        let create = TrackerCommand.createUser(userID: probeUserID, salt: salt, passwordHash: simPasswordHash("probe", salt: salt))
        _ = probe.apply(CommandEnvelope(clientID: 0, sequence: 0, command: create))
        let hash = openProbeSession(&probe, userID: probeUserID)
        let groups = try? Page<GroupSummary>.collect(upTo: machine.state.groupCount) { page in
            guard case let .ok(.groups(groups)) = probe.query(.listGroups(tokenHash: hash, page: page)) else {
                throw PagingError(cursor: page.after ?? "")
            }
            return groups
        }
        var owners: [String: String] = [:]
        for group in groups?.items ?? [] { owners[group.groupID] = group.ownerID }
        return owners
    }
}
