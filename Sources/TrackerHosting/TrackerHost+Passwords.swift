import TrackerProtocol
import TrackerStateMachine

extension TrackerHost {
    /// `create_user` and `login`: slow password work under an admission of their own.
    mutating func submitPasswordRequest(_ request: ClientRequest, replyTo target: ReplyTarget) {
        guard passwordRequestCount < options.passwordRequestsMax else {
            counters.refusedPasswordAdmission += 1
            reply(target, .retryLater(reason: "too many logins and new users in progress"))
            return
        }
        switch request.operation {
        case let .createUser(_, password):
            guard !password.isEmpty, password.utf8.count <= 256 else {
                reply(target, .rejected(reason: "password must be 1 to 256 bytes"))
                return
            }
            startJob(.hash(password: password), pending: .createUser(request, target))
        case let .login(userID, _, _, _):
            guard request.token.count >= options.loginTokenBytesMin else {
                reply(target, .rejected(reason: "a login must carry a new session token of at least \(options.loginTokenBytesMin) bytes"))
                return
            }
            startRead(.credentials(userID: userID), pending: .login(request, target))
        default:
            break
        }
    }

    /// Whether a command or read may start; answers "retry later" when too many are pending.
    mutating func admitsRequest(_ target: ReplyTarget) -> Bool {
        guard pendingCount < options.pendingRequestsMax else {
            reply(target, .retryLater(reason: "too many requests in progress"))
            return false
        }
        return true
    }

    /// Hands back the outcome of a `PasswordJob`.
    public mutating func completePasswordJob(id: UInt64, outcome: PasswordOutcome) {
        guard let job = pendingJobs.removeValue(forKey: id) else { return }
        switch job {
        case let .createUser(request, _), let .login(request, _):
            jobOfRequest[RequestKey(clientID: request.clientID, sequence: request.sequence)] = nil
        }
        switch (job, outcome) {
        case let (.createUser(request, target), .hashed(salt, passwordHash)):
            guard case let .createUser(userID, _) = request.operation else { return }
            let command = TrackerCommand.createUser(userID: userID, salt: salt, passwordHash: passwordHash)
            propose(CommandEnvelope(clientID: request.clientID, sequence: request.sequence, command: command), kind: .plain, target: target)
        case let (.login(request, target), .verified(isMatch)):
            guard case let .login(userID, _, peerAddress, fingerprint) = request.operation else { return }
            guard isMatch else {
                reply(target, .rejected(reason: "wrong user id or password"))
                return
            }
            let command = TrackerCommand.openSession(userID: userID, tokenHash: hashToken(request.token), peerAddress: peerAddress,
                                                     certificateFingerprint: fingerprint, nowMillis: nowMillis)
            propose(CommandEnvelope(clientID: request.clientID, sequence: request.sequence, command: command),
                    kind: .login(token: request.token), target: target)
        case let (.createUser(_, target), _), let (.login(_, target), _):
            reply(target, .retryLater(reason: "internal password error"))
        }
    }
}
