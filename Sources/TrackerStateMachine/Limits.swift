/// Every bound the tracker state machine enforces, in one place.
///
/// All replicas of a cluster must run with equal limits: they are part of the deterministic
/// rules, exactly like the code. A limit that is reached makes the command fail with
/// `TrackerError.Code.limitReached` and leaves the state unchanged.
public struct Limits: Sendable, Equatable {
    /// Bytes of a user id, group id or file name (names are ASCII, so bytes equal characters).
    public var nameBytesMax: Int = 64
    /// Bytes of a peer address `IP:PORT`.
    public var peerAddressBytesMax: Int = 64
    /// Registered users.
    public var usersMax: Int = 1_000_000
    /// Groups.
    public var groupsMax: Int = 100_000
    /// Members of one group, owner included.
    public var membersPerGroupMax: Int = 1_000
    /// Pending join requests of one group.
    public var pendingRequestsPerGroupMax: Int = 1_000
    /// Files of one group.
    public var filesPerGroupMax: Int = 10_000
    /// Sharers (complete or partial) of one file.
    public var sharersPerFileMax: Int = 1_000
    /// Pieces of one file; with 512 KiB pieces, 131,072 pieces is 64 GiB.
    public var piecesPerFileMax: Int = 131_072
    /// Bytes of piece hashes one file may carry in its metadata (32,768 pieces, 16 GiB); a
    /// larger file carries the SHA-256 of its hash list instead (`FileMetadata.pieceListDigest`),
    /// so one upload command stays far below Raft's entry limit.
    public var pieceHashesInlineBytesMax: Int = 655_360
    /// The one piece size every file uses.
    public var pieceSizeBytes: UInt32 = 524_288
    /// Bytes of a password salt: at least `saltBytesMin`, at most `saltBytesMax`.
    public var saltBytesMin: Int = 8
    /// See `saltBytesMin`.
    public var saltBytesMax: Int = 64
    /// Bytes of a stored password hash (or of a session token hash).
    public var hashBytesMin: Int = 16
    /// See `hashBytesMin`.
    public var hashBytesMax: Int = 64
    /// How long a session lives after login or its last keepalive.
    public var sessionLeaseMillis: UInt64 = 30_000
    /// Sessions one `expireSessions` command ends at most (the leader sends more commands).
    public var expiredSessionsPerCommandMax = 1_000
    /// (session, client) pairs whose last result is kept for exactly-once answers; the least
    /// recently used (in log order) is forgotten first. Only a session's holder makes these.
    public var clientsMax: Int = 100_000
    /// (client, user id) pairs whose last `createUser`/`openSession` result is kept, apart from
    /// `clientsMax` so that requests anyone can send without a session never evict a session's.
    public var loginClientsMax: Int = 10_000
    /// Groups one user may own when it creates another. Ownership handed on by a leaving owner
    /// is never refused, so an heir may own more; it then creates none until it is below.
    public var groupsOwnedPerUserMax: Int = 1_000
    /// Pending join requests one user may have made, over all groups.
    public var pendingRequestsPerUserMax: Int = 1_000
    /// Shares (complete or partial) one user may hold, over all groups' files.
    public var filesSharedPerUserMax: Int = 10_000
    /// Items in one page of `listGroups`, `listFiles` or `listRequests`; a larger page limit
    /// asked for is cut to this.
    public var pageItemsMax: Int = 1_000
    /// Online sharers one `downloadInfo` lists; the others are only counted.
    public var downloadPeersMax: Int = 50

    /// Bytes of a SHA-1 digest: each piece hash and the whole-file hash.
    public static let sha1Bytes = 20
    /// Bytes of a SHA-256 digest: a detached piece list's.
    public static let pieceListDigestBytes = 32

    /// The limits every tracker uses unless a test says otherwise.
    public static let standard = Limits()

    /// Makes the standard limits; change fields to make others, then call `checkValid()`.
    public init() {}

    /// Traps unless every limit is positive and coherent. Called once when a machine is made.
    public func checkValid() {
        precondition(nameBytesMax >= 1 && peerAddressBytesMax >= 3, "name limits")
        precondition(usersMax >= 1 && groupsMax >= 1, "user and group limits")
        precondition(membersPerGroupMax >= 1 && pendingRequestsPerGroupMax >= 1, "group limits")
        precondition(filesPerGroupMax >= 1 && sharersPerFileMax >= 1, "file limits")
        precondition(piecesPerFileMax >= 1 && pieceSizeBytes >= 1 && pieceHashesInlineBytesMax >= 0, "piece limits")
        precondition(saltBytesMin >= 1 && saltBytesMin <= saltBytesMax, "salt limits")
        precondition(hashBytesMin >= 1 && hashBytesMin <= hashBytesMax, "hash limits")
        precondition(sessionLeaseMillis >= 1 && clientsMax >= 1 && loginClientsMax >= 1, "lease and client limits")
        precondition(groupsOwnedPerUserMax >= 1 && pendingRequestsPerUserMax >= 1 && filesSharedPerUserMax >= 1, "user quotas")
        precondition(pageItemsMax >= 1 && downloadPeersMax >= 1, "reply bounds")
    }

    /// The largest file size accepted: `piecesPerFileMax` full pieces.
    public var fileSizeBytesMax: UInt64 { UInt64(piecesPerFileMax) * UInt64(pieceSizeBytes) }
}
