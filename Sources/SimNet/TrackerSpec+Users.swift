import TrackerProtocol

/// The specification's rules for users and sessions.
extension TrackerSpec {
    func stepUser(_ user: UserSpec, _ input: TrackerCall, _ output: ClientResponse?) -> UserSpec? {
        switch input {
        case let .createUser(_, password):
            return createUser(user, password: password, output)
        case let .login(_, password):
            return login(user, password: password, output)
        case let .logout(session):
            if let ended = Self.endedSession(user, session, output) { return ended }
            let isOpen = user.session == session.token
            guard let output else {
                var next = user
                if isOpen { next.session = nil }
                return next
            }
            guard isOpen, case .result(.ok(.done)) = output else { return nil }
            var next = user
            next.session = nil
            return next
        case let .keepAlive(session):
            if let ended = Self.endedSession(user, session, output) { return ended }
            guard let output else { return user }
            guard user.session == session.token, case .result(.ok(.session)) = output else { return nil }
            return user
        case let .sessionCheck(session):
            if let ended = Self.endedSession(user, session, output) { return ended }
            // Any other answer to an operation with a token means its session was open.
            guard case .result = output else { return user }
            return user.session == session.token ? user : nil
        case .listGroups:
            return nil // only an answer that is neither a listing nor "not logged in" comes here
        default:
            return nil // group operations never reach a user partition
        }
    }

    /// A user is created once; a second create finds it. "Limit reached" counts users over all
    /// partitions, so it is possible whenever the user does not exist; it changes nothing.
    func createUser(_ user: UserSpec, password: String, _ output: ClientResponse?) -> UserSpec? {
        var created = user
        created.password = password
        guard let output else { return user.password == nil ? created : user }
        switch output {
        case .result(.ok(.done)): return user.password == nil ? created : nil
        case let .result(.failed(error)) where error.code == .userExists: return user.password == nil ? nil : user
        case let .result(.failed(error)) where error.code == .limitReached: return user.password == nil ? user : nil
        default: return nil
        }
    }

    /// A login with the right password of an existing user opens a session with the token it
    /// answers, ending the user's earlier session; anything else is refused and changes nothing.
    func login(_ user: UserSpec, password: String, _ output: ClientResponse?) -> UserSpec? {
        let isRight = user.password != nil && user.password == password
        guard let output else {
            guard isRight else { return user }
            var next = user
            next.session = [] // opened, with a token nobody learned
            return next
        }
        switch output {
        case let .loggedIn(token, _):
            guard isRight, !token.isEmpty else { return nil }
            var next = user
            next.session = token
            return next
        case .rejected:
            return isRight ? nil : user
        default:
            return nil
        }
    }

    /// For an answer "not logged in": the session is not open (any more), which is always
    /// possible (its lease may have run out); it stays ended. Nil for any other answer.
    static func endedSession(_ user: UserSpec, _ session: SpecSession, _ output: ClientResponse?) -> UserSpec? {
        guard let output, output.isNotLoggedIn else { return nil }
        var next = user
        if next.session == session.token { next.session = nil }
        return next
    }
}

extension ClientResponse {
    /// Whether this is the answer "not logged in".
    var isNotLoggedIn: Bool {
        if case let .result(.failed(error)) = self { error.code == .notLoggedIn } else { false }
    }
}
