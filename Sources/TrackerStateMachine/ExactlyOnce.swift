/// Whose requests a cached result answers, for a command made under a session: the session
/// (its token hash, which only the holder of the token can make the leader put in a command)
/// and the client process (one user's client runs several, each numbering its own requests).
public struct SessionClientKey: Hashable, Comparable, Sendable {
    /// The session's token hash, as the leader bound it to the command.
    public var tokenHash: TokenHash
    /// The client process's id.
    public var clientID: UInt64

    /// Makes a key.
    public init(tokenHash: TokenHash, clientID: UInt64) {
        self.tokenHash = tokenHash
        self.clientID = clientID
    }

    /// By token hash, then client id: the order of the snapshot.
    public static func < (lhs: Self, rhs: Self) -> Bool {
        lhs.tokenHash != rhs.tokenHash ? lhs.tokenHash < rhs.tokenHash : lhs.clientID < rhs.clientID
    }
}

/// Whose requests a cached result answers, for the commands made before a session exists
/// (`createUser`, `openSession`): the client process and the user id the command names.
public struct LoginClientKey: Hashable, Comparable, Sendable {
    /// The client process's id.
    public var clientID: UInt64
    /// The user the command creates or logs in.
    public var userID: String

    /// Makes a key.
    public init(clientID: UInt64, userID: String) {
        self.clientID = clientID
        self.userID = userID
    }

    /// By client id, then user id: the order of the snapshot.
    public static func < (lhs: Self, rhs: Self) -> Bool {
        lhs.clientID != rhs.clientID ? lhs.clientID < rhs.clientID : lhs.userID < rhs.userID
    }
}

/// Exactly-once application, bound to who can prove what.
///
/// A client id is chosen by the client and travels in the clear, so it proves nothing: keyed by
/// it alone, a stranger who learnt it could send one command with sequence 2^64−1 and every
/// later request of the victim would be refused as older. So:
///
/// - **Commands under a session** are deduplicated per (token hash, client id). The leader
///   puts the hash of the token the request carries into the command (`TrackerCommand.bind`
///   in TrackerHosting), so only the token's holder can name this key. A repeat of the key's last
///   sequence gets the cached result; an older one is refused `staleRequest`. A command whose
///   token names no session is recorded only if its key is remembered already: a stranger's
///   made-up tokens cannot fill the table, and the retry of such a command is refused
///   `notLoggedIn` again (tokens are random and never come back). Entries outlive their session
///   (within `Limits.clientsMax`, least recently used forgotten first), so the retry of a
///   `logout`, or of a command applied just before the lease ran out, still gets its answer.
/// - **`createUser` and `openSession`** have no session yet: nothing in them proves who sent
///   them. They are deduplicated per (client id, user id) by *exact* sequence only: a repeat of
///   the key's last sequence gets the cached result; any other sequence, older or newer, is
///   applied afresh and becomes the one remembered. No sequence is ever refused, so nothing a
///   stranger sends can block a victim's `create_user` or `login`. Applying one of these again
///   is safe without the table: `createUser` never overwrites (a second run answers `userExists`
///   and changes nothing), and a second `openSession` (the leader checked the password again
///   and made a new token) is a new login, which replaces the earlier session by the
///   one-session-per-user rule. The table only spares the common retry a misleading
///   `userExists` or a second session. A stranger who sends the victim's client id and user id
///   with another sequence can at worst make the victim's *retry* run afresh and answer
///   `userExists`, which anyone racing for the name could cause anyway. A command with an
///   invalid user id is not recorded: its retry is refused the same way. These keys live in
///   their own table (`Limits.loginClientsMax`), so requests anyone can send without an
///   account never evict a session's entries.
/// - **Client id 0** is never deduplicated: commands the leader makes itself (`expireSessions`).
extension TrackerStateMachine {
    /// Applies a command exactly once per key and sequence (see above). A refused command
    /// changes no domain state.
    public mutating func apply(_ envelope: CommandEnvelope) -> TrackerResult {
        appliedCount += 1
        let stamp = appliedCount
        let (clientID, sequence, command) = (envelope.clientID, envelope.sequence, envelope.command)
        guard clientID != 0 else { return execute(command) }
        switch command {
        case let .createUser(userID, _, _), let .openSession(userID, _, _, _, _):
            guard NameRule.violation(of: userID, limits: limits) == nil else { return execute(command) }
            let key = LoginClientKey(clientID: clientID, userID: userID)
            if let cached = loginClients[key], cached.sequence == sequence {
                loginClients.touch(key, stamp: stamp)
                return cached.result
            }
            let result = execute(command)
            loginClients.record(key, sequence: sequence, result: result, stamp: stamp, capacity: limits.loginClientsMax)
            return result
        case .expireSessions:
            return execute(command)
        default:
            guard let tokenHash = command.sessionTokenHash else { return execute(command) }
            let key = SessionClientKey(tokenHash: tokenHash, clientID: clientID)
            let cached = sessionClients[key]
            if let cached, sequence == cached.sequence {
                sessionClients.touch(key, stamp: stamp)
                return cached.result
            }
            if let cached, sequence < cached.sequence {
                return .failure(.staleRequest, "sequence \(sequence) < last \(cached.sequence)")
            }
            // Judged before executing: a logout ends the session it is recorded under.
            let isRecorded = cached != nil || state.sessions[tokenHash] != nil
            let result = execute(command)
            if isRecorded {
                sessionClients.record(key, sequence: sequence, result: result, stamp: stamp, capacity: limits.clientsMax)
            }
            return result
        }
    }

    /// The last (sequence, result) remembered for a session's client, if any.
    public func cachedResult(for key: SessionClientKey) -> (sequence: UInt64, result: TrackerResult)? {
        sessionClients[key].map { ($0.sequence, $0.result) }
    }

    /// The last (sequence, result) remembered for a client's `createUser`/`openSession` of a user.
    public func cachedResult(for key: LoginClientKey) -> (sequence: UInt64, result: TrackerResult)? {
        loginClients[key].map { ($0.sequence, $0.result) }
    }

    /// Number of (session, client) pairs and of (client, user) pairs whose last result is kept.
    public var cachedClientCount: (sessions: Int, logins: Int) { (sessionClients.count, loginClients.count) }
}

extension TrackerCommand {
    /// The session a command is made under, or nil for the commands made without one.
    var sessionTokenHash: TokenHash? {
        switch self {
        case .createUser, .openSession, .expireSessions: nil
        case let .keepAlive(tokenHash, _), let .logout(tokenHash), let .createGroup(tokenHash, _),
             let .joinGroup(tokenHash, _), let .acceptRequest(tokenHash, _, _), let .leaveGroup(tokenHash, _),
             let .uploadFile(tokenHash, _, _), let .announcePieces(tokenHash, _, _, _), let .stopShare(tokenHash, _, _):
            tokenHash
        }
    }
}
