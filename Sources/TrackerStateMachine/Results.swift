
/// Why a command or query was refused. The state is unchanged whenever one is returned.
public struct TrackerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The kind of refusal; stable numbers, part of the wire format.
    public enum Code: UInt8, Sendable, CaseIterable {
        /// Input breaks a validation rule; `detail` says which.
        case invalidInput = 1
        /// A user with this id exists already.
        case userExists = 2
        /// No user has this id.
        case noSuchUser = 3
        /// The token names no open session (never logged in, logged out, expired or replaced).
        case notLoggedIn = 4
        /// A group with this id exists already.
        case groupExists = 5
        /// No group has this id.
        case noSuchGroup = 6
        /// The caller is not a member of the group.
        case notMember = 7
        /// The caller is not the owner of the group.
        case notOwner = 8
        /// The caller is a member already.
        case alreadyMember = 9
        /// The caller's join request is pending already.
        case alreadyPending = 10
        /// The named user has no pending request to this group.
        case noSuchRequest = 11
        /// The group has no file with this name.
        case noSuchFile = 12
        /// The group has a file with this name and different content.
        case fileConflict = 13
        /// The caller does not share this file.
        case notSharing = 14
        /// A bound in `Limits` would be exceeded; `detail` says which.
        case limitReached = 15
        /// The request's sequence number is older than the client's last one, whose result is
        /// the only one kept.
        case staleRequest = 16
        /// The session token hash is in use by another session.
        case tokenInUse = 17
    }

    /// The kind of refusal.
    public var code: Code
    /// What exactly was wrong (may be empty), e.g. "group id contains '/'".
    public var detail: String

    /// Makes an error of a kind with an optional detail.
    public init(_ code: Code, _ detail: String = "") {
        self.code = code
        self.detail = detail
    }

    /// A sentence for a person: the kind's message, then the detail.
    public var message: String {
        let base: String
        switch code {
        case .invalidInput: base = "invalid input"
        case .userExists: base = "user already exists"
        case .noSuchUser: base = "no such user"
        case .notLoggedIn: base = "not logged in"
        case .groupExists: base = "group already exists"
        case .noSuchGroup: base = "no such group"
        case .notMember: base = "not a member of the group"
        case .notOwner: base = "not the owner of the group"
        case .alreadyMember: base = "already a member of the group"
        case .alreadyPending: base = "join request already pending"
        case .noSuchRequest: base = "no such join request"
        case .noSuchFile: base = "no such file"
        case .fileConflict: base = "a different file with this name exists in the group"
        case .notSharing: base = "not sharing this file"
        case .limitReached: base = "limit reached"
        case .staleRequest: base = "request is older than the client's last request"
        case .tokenInUse: base = "session token already in use"
        }
        return detail.isEmpty ? base : "\(base): \(detail)"
    }

    /// Same as `message`.
    public var description: String { message }
}

/// One line of `list_groups`.
public struct GroupSummary: Equatable, Sendable {
    /// The group's id.
    public var groupID: String
    /// Its owner's user id.
    public var ownerID: String
    /// Its number of members, owner included.
    public var memberCount: UInt32

    /// Makes a summary.
    public init(groupID: String, ownerID: String, memberCount: UInt32) {
        self.groupID = groupID
        self.ownerID = ownerID
        self.memberCount = memberCount
    }
}

/// One line of `list_files`.
public struct FileSummary: Equatable, Sendable {
    /// The file's name.
    public var name: String
    /// Its size.
    public var sizeBytes: UInt64
    /// How many of its sharers are online (logged in) now.
    public var onlineSharerCount: UInt32

    /// Makes a summary.
    public init(name: String, sizeBytes: UInt64, onlineSharerCount: UInt32) {
        self.name = name
        self.sizeBytes = sizeBytes
        self.onlineSharerCount = onlineSharerCount
    }
}

/// An online peer sharing a file, and which pieces it holds.
public struct PeerInfo: Equatable, Sendable {
    /// The sharing user.
    public var userID: String
    /// Where its client serves pieces, `IP:PORT`.
    public var peerAddress: String
    /// Its pieces, as a `PieceBitfield`.
    public var pieces: [UInt8]
    /// The SHA-256 of the certificate its session logged in with (empty without TLS): the
    /// downloader pins it when it connects.
    public var certificateFingerprint: [UInt8]

    /// Makes a peer entry.
    public init(userID: String, peerAddress: String, pieces: [UInt8], certificateFingerprint: [UInt8] = []) {
        self.userID = userID
        self.peerAddress = peerAddress
        self.pieces = pieces
        self.certificateFingerprint = certificateFingerprint
    }
}

/// What a downloader needs: the file's metadata and up to `Limits.downloadPeersMax` of its
/// online sharers, the asking user excluded.
///
/// The sharers listed are the first online ones in user-id order *after the asking user*,
/// wrapping around to the smallest id: deterministic, yet different downloaders of a popular
/// file are sent to different sharers instead of all to the same first few.
public struct DownloadInfo: Equatable, Sendable {
    /// The file's name, size and hashes.
    public var metadata: FileMetadata
    /// Online sharers, complete or partial, in user-id order starting after the asking user.
    public var peers: [PeerInfo]
    /// Online sharers left out of `peers` by the bound.
    public var omittedPeerCount: UInt32

    /// Makes download information.
    public init(metadata: FileMetadata, peers: [PeerInfo], omittedPeerCount: UInt32 = 0) {
        self.metadata = metadata
        self.peers = peers
        self.omittedPeerCount = omittedPeerCount
    }
}

/// An open session as queries show it.
public struct SessionInfo: Equatable, Sendable {
    /// The logged-in user.
    public var userID: String
    /// The address its client serves pieces on.
    public var peerAddress: String
    /// When the lease runs out unless a keepalive renews it, in the leader's milliseconds.
    public var leaseExpiryMillis: UInt64
    /// The SHA-256 of the certificate the session logged in with (empty without TLS).
    public var certificateFingerprint: [UInt8]

    /// Makes session information.
    public init(userID: String, peerAddress: String, leaseExpiryMillis: UInt64, certificateFingerprint: [UInt8] = []) {
        self.userID = userID
        self.peerAddress = peerAddress
        self.leaseExpiryMillis = leaseExpiryMillis
        self.certificateFingerprint = certificateFingerprint
    }
}

/// What a successful command or query returns.
public enum TrackerReply: Equatable, Sendable {
    /// Done, nothing to report.
    case done
    /// A session, after `openSession` and `keepAlive` and for the `session` query.
    case session(SessionInfo)
    /// How many sessions `expireSessions` ended.
    case expiredSessions(count: UInt32)
    /// A user's salt and password hash, for the leader to check a login.
    case credentials(salt: [UInt8], passwordHash: [UInt8])
    /// A page of the groups, sorted by group id.
    case groups(Page<GroupSummary>)
    /// A page of a group's pending join requests' user ids, sorted.
    case requests(Page<String>)
    /// A page of a group's files, sorted by name.
    case files(Page<FileSummary>)
    /// A file's metadata and online sharers.
    case download(DownloadInfo)
}

/// The outcome of a command or query: a reply or an error. Encodable, because the leader
/// sends it to the client and the state machine caches it for exactly-once answers.
public enum TrackerResult: Equatable, Sendable {
    /// It worked.
    case ok(TrackerReply)
    /// It was refused; nothing changed.
    case failed(TrackerError)

    /// A refusal of kind `code` with an optional detail.
    public static func failure(_ code: TrackerError.Code, _ detail: String = "") -> TrackerResult {
        .failed(TrackerError(code, detail))
    }

    /// Whether it worked.
    public var isOK: Bool { if case .ok = self { true } else { false } }
}
