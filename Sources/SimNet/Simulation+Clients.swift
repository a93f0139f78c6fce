import TrackerProtocol
import TrackerStateMachine

/// Simulated clients: leader discovery and retries through the real `LeaderFinder`, one
/// operation at a time, each outcome recorded in the history the checkers read.
extension Simulation {
    /// The production retry policy (`TrackerClient` uses the same one).
    static let callPolicy = CallPolicy()
    /// Longest pause between a client's operations.
    static let thinkMaxMicros: UInt64 = 200_000

    func scheduleClientWake(_ client: Int, afterMicros delay: UInt64) {
        clients[client].attempt += 1
        queue.schedule(.clientWake(client: client, attempt: clients[client].attempt), atMicros: nowMicros + delay)
    }

    func clientWoke(_ client: Int, attempt: UInt64) {
        guard clients[client].attempt == attempt else { return }
        if clients[client].current == nil {
            guard nowMicros < clientsStopMicros else { return }
            let kind = clients[client].nextKind(using: &random)
            var request = clients[client].makeRequest(kind, limits: hostOptions.limits)
            if case .login = kind {
                // The client chooses its session's token; every retry carries the same one.
                request.token = (0..<SimClient.loginTokenBytes).map { _ in UInt8.random(in: 0...255, using: &random) }
            }
            clients[client].serial += 1
            clients[client].current = ClientOp(kind: kind, request: request, invokedMicros: nowMicros,
                                                  deadlineMicros: nowMicros + Self.callPolicy.callDeadlineMillis(for: request.operation) * 1_000, serial: clients[client].serial)
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
        let request = clients[client].current!.request
        sendRequest(request, client: client, attempt: attempt, to: node)
        clients[client].attemptSentMicros = nowMicros
        // The production client's adaptive wait: a multiple of recent answer times.
        let waitMicros = Self.callPolicy.attemptTimeoutMillis(for: request.operation, recent: clients[client].answers) * 1_000
        queue.schedule(.clientTimeout(client: client, attempt: attempt), atMicros: nowMicros + waitMicros)
    }

    func clientTimedOut(_ client: Int, attempt: UInt64) {
        guard clients[client].attempt == attempt, clients[client].current != nil else { return }
        decide(client, .failed("timeout"))
    }

    /// What the production retry policy says after an attempt: retry (same request) or done.
    func decide(_ client: Int, _ outcome: AttemptOutcome) {
        switch Self.callPolicy.decide(outcome, finder: &clients[client].finder) {
        case let .retry(pause, problem):
            retry(client, pauseMillis: pause, why: problem)
        case let .done(response):
            if case .loggedIn = response, clients[client].current?.isLoginAnswerLost == true {
                coverage.add("login retried after a lost answer")
            }
            finish(client, .answered(response))
        }
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
        switch op.request.operation {
        case .createUser, .login: break
        case .command, .query, .clusterStatus:
            let sent = clients[client].attemptSentMicros
            clients[client].answers.record(nowMicros > sent ? (nowMicros - sent) / 1_000 : 0)
        }
        if options.isMembershipOn {
            switch response {
            case .result, .loggedIn: learnMembers(client, isLeaderAnswer: true)
            case .redirect, .noLeader, .retryLater, .rejected, .status, .possiblyStale: learnMembers(client, isLeaderAnswer: false)
            }
        }
        decide(client, .answered(response))
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
        if case let .answered(response) = ending { answer = response }
        recordForLinearizability(client, op, answer)
        switch ending {
        case .unknown:
            history.opsUnknown += 1
            if healedAtMicros != nil { history.unknownAfterHeal += 1 }
            recordCreate(client, op, .unknown)
            if case .createOwnUser = op.kind { clients[client].hasUser = false }
        case let .answered(response):
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
        if response.isNotLoggedIn {
            if case .keepAliveContested = op.kind { clients[client].contestedSession = nil } else { clients[client].token = [] }
        }
        let contestedUser = clients[client].loginUser
        switch (op.kind, response) {
        case (.login, let .loggedIn(token, _)):
            if let contestedUser { clients[client].contestedSession = (contestedUser, token) } else { clients[client].token = token }
        case (.login, .rejected):
            // The user's creation may never have happened (a contested one may not be made yet).
            if contestedUser == nil { clients[client].hasUser = false }
        case (.logout, .result(.ok)):
            clients[client].token = []
        case let (.listRequests(group), .result(.ok(.requests(users)))):
            clients[client].acceptCandidate = users.items.first.map { (group, $0) }
        case (.acceptRequest, _):
            clients[client].acceptCandidate = nil
        case let (.createGroup(group, true), .result(.ok)):
            clients[client].contestedOwned.append(group)
        case let (.leaveGroup(group), .result(.ok)):
            clients[client].contestedOwned.removeAll { $0 == group }
        case (.createOwnUser, .result(.ok)):
            clients[client].hasUser = true
        case (.createOwnUser, let .result(.failed(error))) where error.code == .userExists:
            clients[client].hasUser = true
        case let (.createGroup(key, _), .result(result)):
            recordCreate(client, op, createOutcome(result, existsCode: .groupExists))
            if result.isOK, op.kind.createdKey != nil {
                history.ackedGroups.append((key, nowMicros, clients[client].userID))
                clients[client].ownedGroups.append(key)
            }
        case let (.createContestedUser, .result(result)):
            recordCreate(client, op, createOutcome(result, existsCode: .userExists))
        case let (.upload(group, file), .result(.ok)) where !SimClient.isContested(group):
            history.ackedUploads.append((group, file, clients[client].userID))
            clients[client].uploads.append((group, file))
        case let (.listGroups, .result(.ok(.groups(page)))):
            if let stale = history.staleRead(page: page, invokedMicros: op.invokedMicros) { fail("no stale reads", stale) }
        case let (.downloadInfo(group, file), .result(.failed(error)))
            where !SimClient.isContested(group) && [.noSuchFile, .noSuchGroup, .notMember].contains(error.code):
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
