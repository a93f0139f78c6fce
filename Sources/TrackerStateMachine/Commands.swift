/// Every command that changes the tracker. The leader fills in what needs effects (password
/// hashing, token generation, the time) before proposing, so applying a command is pure.
public enum TrackerCommand: Equatable, Sendable {
    /// Registers a user. The leader hashed the password (PBKDF2-HMAC-SHA256 or scrypt) with a
    /// random salt; the password itself never enters the log.
    case createUser(userID: String, salt: [UInt8], passwordHash: [UInt8])
    /// Opens a session for a user whose password the leader checked against `credentials`.
    /// `tokenHash` is the hash of a random token (≥ 128 bits) the leader gives the client.
    /// A user has at most one session: a new login replaces (ends) the previous one.
    /// `certificateFingerprint` is the SHA-256 of the certificate the login's TLS connection
    /// presented (32 bytes; empty for a login without TLS): peers admit the session by it.
    case openSession(userID: String, tokenHash: TokenHash, peerAddress: String, certificateFingerprint: [UInt8] = [], nowMillis: UInt64)
    /// Renews a session's lease to `nowMillis + Limits.sessionLeaseMillis` in the replicated
    /// state. tracker-node never proposes it: the leader renews leases in its memory (a
    /// keepalive costs no Raft write) and replicates only their expiry; it stays for tools and
    /// tests that want a cheap replicated session command.
    case keepAlive(tokenHash: TokenHash, nowMillis: UInt64)
    /// Ends a session. The user's shares pause until it logs in again.
    case logout(tokenHash: TokenHash)
    /// Ends the listed sessions (those that still exist): the leader lists the ones whose
    /// lease, renewed in its memory, ran out by `nowMillis` on its clock. At most
    /// `Limits.expiredSessionsPerCommandMax` hashes, sorted.
    case expireSessions(tokenHashes: [TokenHash], nowMillis: UInt64)
    /// Creates a group; the caller becomes its owner and first member.
    case createGroup(tokenHash: TokenHash, groupID: String)
    /// Asks to join a group; the request waits for the owner.
    case joinGroup(tokenHash: TokenHash, groupID: String)
    /// The owner accepts a pending request; the user becomes the newest member.
    case acceptRequest(tokenHash: TokenHash, groupID: String, userID: String)
    /// The caller leaves a group; its shares there end. An owner leaving hands ownership to the
    /// longest-standing member; a group left empty is deleted. A caller whose join request is
    /// pending withdraws it.
    case leaveGroup(tokenHash: TokenHash, groupID: String)
    /// Registers a file in a group, or adds the caller as a complete sharer of the same content.
    case uploadFile(tokenHash: TokenHash, groupID: String, metadata: FileMetadata)
    /// Adds pieces (a `PieceBitfield`, merged with what the caller already holds) to the
    /// caller's share of a file, making it a sharer if it was not one.
    case announcePieces(tokenHash: TokenHash, groupID: String, fileName: String, pieces: [UInt8])
    /// Ends the caller's share of a file; a file nobody shares leaves the group.
    case stopShare(tokenHash: TokenHash, groupID: String, fileName: String)
}

/// A command with the client's identity for exactly-once application: a client numbers its
/// requests 1, 2, 3…; a retry reuses the number and gets the cached result. Which key a
/// command is deduplicated under is in `ExactlyOnce.swift`.
public struct CommandEnvelope: Equatable, Sendable {
    /// The client's id, unique per client process (random from the shell). 0 means "not
    /// deduplicated": for commands the leader proposes itself, like `expireSessions`.
    public var clientID: UInt64
    /// The request's number, increasing per client.
    public var sequence: UInt64
    /// What to do.
    public var command: TrackerCommand

    /// Makes an envelope.
    public init(clientID: UInt64, sequence: UInt64, command: TrackerCommand) {
        self.clientID = clientID
        self.sequence = sequence
        self.command = command
    }
}

/// Every read. Queries never change state; the shell answers them from the leader's applied
/// state after a ReadIndex round.
public enum TrackerQuery: Equatable, Sendable {
    /// A user's salt and password hash, for the leader to check a login. Shell-internal:
    /// never answer this for a client.
    case credentials(userID: String)
    /// The session a token hash belongs to.
    case session(tokenHash: TokenHash)
    /// A page of the groups with their owner and member count, sorted by group id.
    case listGroups(tokenHash: TokenHash, page: PageRequest = .first)
    /// A page of a group's pending join requests, sorted by user id; owner only.
    case listRequests(tokenHash: TokenHash, groupID: String, page: PageRequest = .first)
    /// A page of a group's files with size and online sharer count, sorted by name; members only.
    case listFiles(tokenHash: TokenHash, groupID: String, page: PageRequest = .first)
    /// A file's metadata and up to `Limits.downloadPeersMax` online sharers with their pieces,
    /// plus how many others are online; members only.
    case downloadInfo(tokenHash: TokenHash, groupID: String, fileName: String)
    /// For a peer serving pieces: the session of `userID` if it is a member of the group and
    /// online (the caller must be a member too). Answers `.session`, else `notMember`.
    case memberSession(tokenHash: TokenHash, groupID: String, userID: String)
}
