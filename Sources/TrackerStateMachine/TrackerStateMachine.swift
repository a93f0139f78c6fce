
/// The tracker's whole domain as a pure, deterministic state machine.
///
/// Every replica applies the same committed commands in the same order and so holds the same
/// state and returns the same results, byte for byte. It reads no clock (time arrives as
/// `nowMillis` inside commands), draws no random numbers, does no I/O, and never lets
/// `Dictionary`/`Set` order reach a result or a snapshot.
///
/// The shell's duties: hash passwords (PBKDF2-HMAC-SHA256 ≥ 100,000 iterations, random salt)
/// and check logins against `query(.credentials)` before proposing `openSession`; make random
/// session tokens (≥ 128 bits) and pass only their hash; stamp time commands with its clock;
/// propose `expireSessions` periodically; give each client id and request sequence; bind each
/// client's command to the hash of the token its request carries.
public struct TrackerStateMachine: Equatable, Sendable {
    /// The bounds this machine enforces; equal on every replica.
    public let limits: Limits
    /// The domain state: users, sessions, groups, files.
    public internal(set) var state: TrackerState
    /// Commands applied so far, in log order; the stamp of the exactly-once cache.
    public internal(set) var appliedCount: UInt64
    /// Last results of commands made under a session (see `ExactlyOnce.swift`).
    var sessionClients: ClientTable<SessionClientKey>
    /// Last results of `createUser` and `openSession` (see `ExactlyOnce.swift`).
    var loginClients: ClientTable<LoginClientKey>

    /// An empty tracker with the given limits.
    public init(limits: Limits = .standard) {
        limits.checkValid()
        self.limits = limits
        state = TrackerState()
        appliedCount = 0
        sessionClients = ClientTable()
        loginClients = ClientTable()
    }

    /// Applies a committed log entry as bytes: an entry that does not decode is counted and
    /// refused with `invalidInput` on every replica alike, and changes nothing else.
    public mutating func apply(encoded bytes: [UInt8]) -> TrackerResult {
        do {
            return apply(try CommandEnvelope.decode(bytes, limits: limits))
        } catch {
            appliedCount += 1
            return .failure(.invalidInput, "undecodable command: \(error)")
        }
    }

    mutating func execute(_ command: TrackerCommand) -> TrackerResult {
        do {
            return .ok(try executeThrowing(command))
        } catch {
            return .failed(error)
        }
    }

    /// Runs one command; every handler validates fully before its first change, so a thrown
    /// error leaves the state as it was.
    mutating func executeThrowing(_ command: TrackerCommand) throws(TrackerError) -> TrackerReply {
        switch command {
        case let .createUser(userID, salt, passwordHash):
            return try state.createUser(userID, salt: salt, passwordHash: passwordHash, limits: limits)
        case let .openSession(userID, tokenHash, peerAddress, fingerprint, nowMillis):
            return try state.openSession(userID, tokenHash: tokenHash, peerAddress: peerAddress, certificateFingerprint: fingerprint,
                                         nowMillis: nowMillis, limits: limits)
        case let .keepAlive(tokenHash, nowMillis):
            return try state.keepAlive(tokenHash, nowMillis: nowMillis, limits: limits)
        case let .logout(tokenHash):
            return try state.logout(tokenHash)
        case let .expireSessions(tokenHashes, _):
            return state.expireSessions(tokenHashes)
        case let .createGroup(tokenHash, groupID):
            return try state.createGroup(tokenHash, groupID: groupID, limits: limits)
        case let .joinGroup(tokenHash, groupID):
            return try state.joinGroup(tokenHash, groupID: groupID, limits: limits)
        case let .acceptRequest(tokenHash, groupID, userID):
            return try state.acceptRequest(tokenHash, groupID: groupID, userID: userID, limits: limits)
        case let .leaveGroup(tokenHash, groupID):
            return try state.leaveGroup(tokenHash, groupID: groupID, limits: limits)
        case let .uploadFile(tokenHash, groupID, metadata):
            return try state.uploadFile(tokenHash, groupID: groupID, metadata: metadata, limits: limits)
        case let .announcePieces(tokenHash, groupID, fileName, pieces):
            return try state.announcePieces(tokenHash, groupID: groupID, fileName: fileName, pieces: pieces, limits: limits)
        case let .stopShare(tokenHash, groupID, fileName):
            return try state.stopShare(tokenHash, groupID: groupID, fileName: fileName, limits: limits)
        }
    }
}
