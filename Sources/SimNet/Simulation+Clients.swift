import Consensus
import TrackerService
import TrackerStateMachine

/// Simulated clients: leader discovery and retries through the real `LeaderFinder`, one
/// operation at a time, each outcome recorded in the history the checkers read.
extension Simulation {
    /// Longest a client waits for one attempt before trying the next tracker.
    static let attemptTimeoutMicros: UInt64 = 1_000_000
    /// Longest a client keeps retrying one operation; after that its outcome is unknown.
    static let operationDeadlineMicros: UInt64 = 10_000_000
    /// Longest pause between a client's operations.
    static let thinkMaxMicros: UInt64 = 200_000
    /// Pause before retrying after "retry later" when the finder asks for none.
    static let retryLaterMinMicros: UInt64 = 10_000

    func scheduleClientWake(_ client: Int, afterMicros delay: UInt64) {
        clients[client].attempt += 1
        queue.schedule(.clientWake(client: client, attempt: clients[client].attempt), atMicros: nowMicros + delay)
    }

    func clientWoke(_ client: Int, attempt: UInt64) {
        guard clients[client].attempt == attempt else { return }
        if clients[client].current == nil {
            guard nowMicros < clientsStopMicros else { return }
            let kind = clients[client].nextKind(using: &random)
            let request = clients[client].makeRequest(kind, limits: hostOptions.limits)
            clients[client].serial += 1
            clients[client].current = ClientOp(kind: kind, request: request, invokedMicros: nowMicros,
                                                  deadlineMicros: nowMicros + Self.operationDeadlineMicros, serial: clients[client].serial)
            trace.record(nowMicros, TraceCode.clientOp.rawValue, UInt64(client), request.sequence, 0, 0,
                         "client \(client) starts seq=\(request.sequence) \(kind)")
        }
        sendAttempt(client)
    }

    func sendAttempt(_ client: Int) {
        clients[client].attempt += 1
        clients[client].current!.attempts += 1
        let attempt = clients[client].attempt
        let node = Int(clients[client].finder.target.id) - 1
        sendRequest(clients[client].current!.request, client: client, attempt: attempt, to: node)
        queue.schedule(.clientTimeout(client: client, attempt: attempt), atMicros: nowMicros + Self.attemptTimeoutMicros)
    }

    func clientTimedOut(_ client: Int, attempt: UInt64) {
        guard clients[client].attempt == attempt, clients[client].current != nil else { return }
        retry(client, pauseMillis: clients[client].finder.failed(), why: "timeout")
    }

    func retry(_ client: Int, pauseMillis: UInt64, why: String) {
        let op = clients[client].current!
        if nowMicros >= op.deadlineMicros {
            finish(client, .unknown)
            return
        }
        history.retries += 1
        trace.record(nowMicros, TraceCode.clientRetry.rawValue, UInt64(client), op.request.sequence, pauseMillis, 0,
                     "client \(client) retries seq=\(op.request.sequence) after \(pauseMillis)ms: \(why)")
        scheduleClientWake(client, afterMicros: pauseMillis * 1_000)
    }

    func clientReceived(_ client: Int, attempt: UInt64, _ response: ClientResponse) {
        guard clients[client].attempt == attempt, let op = clients[client].current else { return }
        switch response {
        case let .redirect(leader, _):
            retry(client, pauseMillis: clients[client].finder.redirected(to: leader), why: "redirect to \(leader)")
        case .noLeader:
            retry(client, pauseMillis: clients[client].finder.failed(), why: "no leader")
        case let .retryLater(reason):
            if case .login = op.kind {
                // A login retried with its old sequence would get the cached, older token back.
                clients[client].current!.request = clients[client].makeRequest(.login, limits: hostOptions.limits)
            }
            let pause = max(clients[client].finder.failed() * 1_000, Self.retryLaterMinMicros) / 1_000
            retry(client, pauseMillis: pause, why: reason)
        case .result, .loggedIn, .rejected, .status:
            clients[client].finder.succeeded()
            finish(client, .answered(response))
        }
    }

    enum Ending {
        case answered(ClientResponse)
        case unknown
    }

    /// Ends the current operation: records it, updates the client, schedules the next.
    func finish(_ client: Int, _ ending: Ending) {
        let op = clients[client].current!
        clients[client].current = nil
        history.opsCompleted += 1
        var answer: ClientResponse?
        switch ending {
        case .unknown:
            history.opsUnknown += 1
            if healedAtMicros != nil { history.unknownAfterHeal += 1 }
            recordCreate(client, op, .unknown)
            if case .createOwnUser = op.kind { clients[client].hasUser = false }
        case let .answered(response):
            answer = response
            record(client, op, response)
        }
        trace.record(nowMicros, TraceCode.clientResult.rawValue, UInt64(client), op.request.sequence, 0, 0,
                     "client \(client) seq=\(op.request.sequence) done: \(answer.map { "\($0)".prefix(120) } ?? "unknown")")
        scheduleClientWake(client, afterMicros: UInt64.random(in: 0...Self.thinkMaxMicros, using: &random))
    }

    func recordCreate(_ client: Int, _ op: ClientOp, _ outcome: CreateOutcome) {
        guard let key = op.kind.createdKey else { return }
        var isContested = true
        if case let .createGroup(_, contested) = op.kind { isContested = contested }
        history.creates.append(CreateRecord(client: client, userID: clients[client].userID, key: key, isContested: isContested,
                                            invokedMicros: op.invokedMicros, completedMicros: nowMicros, outcome: outcome))
    }

    func record(_ client: Int, _ op: ClientOp, _ response: ClientResponse) {
        if case let .result(.failed(error)) = response, error.code == .notLoggedIn { clients[client].token = [] }
        switch (op.kind, response) {
        case (.login, let .loggedIn(token, _)):
            clients[client].token = token
        case (.login, .rejected):
            clients[client].hasUser = false // the user's creation may never have happened
        case (.createOwnUser, .result(.ok)):
            clients[client].hasUser = true
        case (.createOwnUser, let .result(.failed(error))) where error.code == .userExists:
            clients[client].hasUser = true
        case let (.createGroup(key, _), .result(result)):
            recordCreate(client, op, createOutcome(result, existsCode: .groupExists))
            if result.isOK {
                history.ackedGroups.append((key, nowMicros, clients[client].userID))
                clients[client].ownedGroups.append(key)
            }
        case let (.createContestedUser, .result(result)):
            recordCreate(client, op, createOutcome(result, existsCode: .userExists))
        case let (.upload(group, file), .result(.ok)):
            history.ackedUploads.append((group, file, clients[client].userID))
            clients[client].uploads.append((group, file))
        case let (.listGroups, .result(.ok(.groups(page)))):
            if let stale = history.staleRead(page: page, invokedMicros: op.invokedMicros) { fail("no stale reads", stale) }
        case let (.downloadInfo(group, file), .result(.failed(error))) where [.noSuchFile, .noSuchGroup, .notMember].contains(error.code):
            fail("no stale reads", "client \(client) uploaded \(group)/\(file) and was told so, then download_info said \(error)")
        case (_, .rejected(let reason)):
            fail("well-formed requests are served", "client \(client) \(op.kind) rejected: \(reason)")
        default:
            break
        }
        if case .result(.ok) = response, op.request.operation.isWrite { history.writeAckMicros.append(nowMicros) }
    }

    func createOutcome(_ result: TrackerResult, existsCode: TrackerError.Code) -> CreateOutcome {
        switch result {
        case .ok: .ok
        case let .failed(error): error.code == existsCode ? .exists : .failed
        }
    }
}

extension ServiceOperation {
    /// Whether the operation changes the tracker.
    var isWrite: Bool {
        switch self {
        case .createUser, .command: true
        case .login, .query, .clusterStatus: false
        }
    }
}
