import TrackerProtocol

/// The linearizability check of everything the simulated clients were told: each finished
/// operation is recorded with its call and return times; at the end of the run the history is
/// checked against `TrackerSpec`.
extension Simulation {
    /// Records a finished operation; `answer` nil means the client gave up (unknown outcome).
    func recordForLinearizability(_ client: Int, _ op: ClientOp, _ answer: ClientResponse?) {
        guard let call = Self.trackerCall(op, of: clients[client]) else { return }
        history.operations.append(TrackerSpec.Operation(client: client, input: call, output: answer, callMicros: op.invokedMicros,
                                                        returnMicros: nowMicros, id: history.operations.count))
    }

    /// The specification's view of a client operation; nil for those it does not cover.
    static func trackerCall(_ op: ClientOp, of client: SimClient) -> TrackerCall? {
        var user = client.userID
        if case let .keepAliveContested(contested) = op.kind { user = contested }
        let session = SpecSession(userID: user, token: op.request.token)
        switch op.request.operation {
        case let .createUser(userID, password): return .createUser(userID: userID, password: password)
        case let .login(userID, password, _, _): return .login(userID: userID, password: password)
        case let .command(command): return trackerCall(command, session)
        case let .query(query): return trackerCall(query, session)
        case .clusterStatus: return nil
        }
    }

    static func trackerCall(_ command: ClientCommand, _ session: SpecSession) -> TrackerCall? {
        switch command {
        case .keepAlive: .keepAlive(session)
        case .logout: .logout(session)
        case let .createGroup(groupID): .createGroup(session, groupID: groupID)
        case let .joinGroup(groupID): .joinGroup(session, groupID: groupID)
        case let .acceptRequest(groupID, userID): .acceptRequest(session, groupID: groupID, userID: userID)
        case let .leaveGroup(groupID): .leaveGroup(session, groupID: groupID)
        case let .uploadFile(groupID, metadata): .uploadFile(session, groupID: groupID, metadata: metadata)
        case .announcePieces, .stopShare: nil
        }
    }

    static func trackerCall(_ query: ClientQuery, _ session: SpecSession) -> TrackerCall? {
        switch query {
        case .listGroups: .listGroups(session)
        case let .listRequests(groupID, _): .listRequests(session, groupID: groupID)
        case let .listFiles(groupID, _): .listFiles(session, groupID: groupID)
        case let .downloadInfo(groupID, fileName): .downloadInfo(session, groupID: groupID, fileName: fileName)
        case .session, .memberSession: nil
        }
    }

    /// Checks the whole client history; the first partition that is not linearizable is a
    /// violation. A partition whose search ran out of steps is counted, not failed.
    func checkLinearizability() {
        let checker = LinearizabilityChecker(model: TrackerSpec(limits: hostOptions.limits))
        let report = checker.check(history.operations)
        history.linearizability = report
        trace.record(nowMicros, TraceCode.clientResult.rawValue, 0, UInt64(report.partitionCount), UInt64(report.inconclusive.count), 0,
                     "linearizability: \(report.partitionCount) partitions, \(report.operationCount) operations, "
                        + "\(report.stepCount) steps, \(report.failures.count) failing, \(report.inconclusive.count) inconclusive")
        if let failure = report.failures.first { fail("linearizability", failure.detail) }
    }

    /// What the end-of-run linearizability check found, once it ran.
    public var linearizabilityReport: LinearizabilityReport? { history.linearizability }
}
