/// The hash of a session token. The leader makes a random token (at least 128 bits), gives it
/// to the client, and puts only this hash (e.g. SHA-256 of the token) in the log.
public struct TokenHash: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The hash bytes; `Limits.hashBytesMin` to `Limits.hashBytesMax` long.
    public let bytes: [UInt8]
    /// FNV-1a of `bytes`, computed once: dictionaries keyed by token hashes (sessions, the
    /// exactly-once table) hash and tell keys apart by it without reading the bytes, which live
    /// out of line. Equal bytes give equal fingerprints.
    let fingerprint: UInt64

    /// Wraps hash bytes.
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        fingerprint = FNV1a64.hash(bytes[...])
    }

    /// Equal bytes.
    public static func == (lhs: TokenHash, rhs: TokenHash) -> Bool {
        lhs.fingerprint == rhs.fingerprint && lhs.bytes == rhs.bytes
    }

    /// Byte-wise lexicographic order, the order sessions are stored in snapshots.
    public static func < (lhs: TokenHash, rhs: TokenHash) -> Bool {
        lhs.bytes.withUnsafeBufferPointer { l in
            rhs.bytes.withUnsafeBufferPointer { r in
                for i in 0..<min(l.count, r.count) where l[i] != r[i] { return l[i] < r[i] }
                return l.count < r.count
            }
        }
    }

    /// Hashes the fingerprint, so neither hashing nor most probes touch the bytes.
    public func hash(into hasher: inout Hasher) { hasher.combine(fingerprint) }

    /// A short hex prefix, for test failure messages only (never log a token hash in full).
    public var description: String {
        let digits = Array("0123456789abcdef")
        return String(bytes.prefix(4).flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }) + "…"
    }
}

/// What a file is: its name in its group, its size and the SHA-1 of every piece and of the
/// whole file. Two uploads have the same content when everything but the name is equal.
///
/// A large file's piece hashes do not fit one replicated command (Raft's entry limit), so a
/// file may instead carry `pieceListDigest`, the SHA-256 of its concatenated piece hashes, and
/// no piece hashes: downloaders fetch the list from sharers and check it against the digest.
public struct FileMetadata: Equatable, Sendable {
    /// The file's name, unique in its group.
    public var name: String
    /// Size of the whole file.
    public var sizeBytes: UInt64
    /// Size of every piece but the last; must equal `Limits.pieceSizeBytes`.
    public var pieceSizeBytes: UInt32
    /// The SHA-1 of each piece, concatenated: `pieceCount * 20` bytes.
    public var pieceHashes: [UInt8]
    /// The SHA-1 of the whole file.
    public var fileHash: [UInt8]
    /// Empty when `pieceHashes` is the list; else the SHA-256 of the list (`pieceHashes` is
    /// then empty), `Limits.pieceListDigestBytes` long.
    public var pieceListDigest: [UInt8]

    /// Makes metadata from its parts; `TrackerStateMachine` validates it on upload.
    public init(name: String, sizeBytes: UInt64, pieceSizeBytes: UInt32, pieceHashes: [UInt8], fileHash: [UInt8],
                pieceListDigest: [UInt8] = []) {
        self.name = name
        self.sizeBytes = sizeBytes
        self.pieceSizeBytes = pieceSizeBytes
        self.pieceHashes = pieceHashes
        self.fileHash = fileHash
        self.pieceListDigest = pieceListDigest
    }

    /// Whether the piece hashes travel between peers, checked against `pieceListDigest`.
    public var hasDetachedPieceList: Bool { !pieceListDigest.isEmpty }

    /// Pieces the file has: its size divided by the piece size, rounded up (0 for an empty file).
    public var pieceCount: Int {
        guard pieceSizeBytes > 0 else { return 0 }
        return Int((sizeBytes + UInt64(pieceSizeBytes) - 1) / UInt64(pieceSizeBytes))
    }

    /// The SHA-1 of piece `index`.
    public func pieceHash(at index: Int) -> ArraySlice<UInt8> {
        pieceHashes[(index * Limits.sha1Bytes)..<((index + 1) * Limits.sha1Bytes)]
    }

    /// Whether `other` has the same content (everything but the name).
    public func hasSameContent(as other: FileMetadata) -> Bool {
        sizeBytes == other.sizeBytes && pieceSizeBytes == other.pieceSizeBytes
            && fileHash == other.fileHash && pieceHashes == other.pieceHashes && pieceListDigest == other.pieceListDigest
    }

    /// Why this metadata is not acceptable, or nil when it is.
    public func violation(limits: Limits) -> String? {
        if let why = NameRule.violation(of: name, limits: limits) { return "file name \(why)" }
        if pieceSizeBytes != limits.pieceSizeBytes { return "piece size must be \(limits.pieceSizeBytes) bytes" }
        if sizeBytes > limits.fileSizeBytesMax { return "file is larger than \(limits.fileSizeBytesMax) bytes" }
        if fileHash.count != Limits.sha1Bytes { return "file hash must be 20 bytes" }
        if hasDetachedPieceList {
            if pieceListDigest.count != Limits.pieceListDigestBytes { return "piece list digest must be \(Limits.pieceListDigestBytes) bytes" }
            if !pieceHashes.isEmpty { return "a file with a piece list digest carries no piece hashes" }
            if pieceCount == 0 { return "an empty file has no piece list" }
            return nil
        }
        if pieceHashes.count != pieceCount * Limits.sha1Bytes {
            return "expected \(pieceCount) piece hashes of 20 bytes for \(sizeBytes) bytes"
        }
        if pieceHashes.count > limits.pieceHashesInlineBytesMax {
            return "more than \(limits.pieceHashesInlineBytesMax) bytes of piece hashes: send the SHA-256 of the list instead"
        }
        return nil
    }
}

/// Which pieces of a file a sharer holds: bit `i` is byte `i / 8`, mask `0x80 >> (i % 8)`
/// (BitTorrent's order), `ceil(pieceCount / 8)` bytes, unused trailing bits zero.
public enum PieceBitfield {
    /// Bytes of a bitfield for `pieceCount` pieces.
    public static func byteCount(pieceCount: Int) -> Int { (pieceCount + 7) / 8 }

    /// A bitfield with every piece set: what a complete sharer holds.
    public static func complete(pieceCount: Int) -> [UInt8] {
        var bits = [UInt8](repeating: 0xFF, count: byteCount(pieceCount: pieceCount))
        let spare = bits.count * 8 - pieceCount
        if spare > 0 { bits[bits.count - 1] = 0xFF << UInt8(spare) }
        return bits
    }

    /// Whether piece `index` is set.
    public static func contains(_ bits: [UInt8], piece index: Int) -> Bool {
        bits[index / 8] & (0x80 >> UInt8(index % 8)) != 0
    }

    /// Why `bits` is not a bitfield for `pieceCount` pieces, or nil when it is.
    public static func violation(of bits: [UInt8], pieceCount: Int) -> String? {
        if bits.count != byteCount(pieceCount: pieceCount) {
            return "bitfield must be \(byteCount(pieceCount: pieceCount)) bytes for \(pieceCount) pieces"
        }
        let spare = bits.count * 8 - pieceCount
        if spare > 0, bits[bits.count - 1] & ~(0xFF << UInt8(spare)) != 0 { return "bitfield sets pieces past the end" }
        return nil
    }

    /// Whether no piece is set.
    public static func isEmpty(_ bits: [UInt8]) -> Bool { bits.allSatisfy { $0 == 0 } }

    /// Whether every one of `pieceCount` pieces is set.
    public static func isComplete(_ bits: [UInt8], pieceCount: Int) -> Bool { bits == complete(pieceCount: pieceCount) }
}

/// A registered user: only a salted slow hash of the password is kept.
struct User: Equatable, Sendable {
    var salt: [UInt8]
    var passwordHash: [UInt8]
}

/// An open session: the user it belongs to, the address its client serves pieces on, and when
/// its lease runs out unless renewed.
struct Session: Equatable, Sendable {
    var userID: String
    var peerAddress: String
    var leaseExpiryMillis: UInt64
    /// The SHA-256 of the certificate the client's TLS connection presented at login (empty
    /// only for a login made without TLS, in a cluster run with `--insecure`).
    var certificateFingerprint: [UInt8] = []
}

extension Session {
    /// The session as queries and results show it.
    var info: SessionInfo {
        SessionInfo(userID: userID, peerAddress: peerAddress, leaseExpiryMillis: leaseExpiryMillis,
                    certificateFingerprint: certificateFingerprint)
    }
}

/// A user sharing a file, with the pieces it holds.
struct Sharer: Equatable, Sendable {
    var userID: String
    var pieces: [UInt8]
}

/// A file of a group and who shares it, sharers sorted by user id.
struct StoredFile: Equatable, Sendable {
    var metadata: FileMetadata
    var sharers: [Sharer]

    func sharerIndex(of userID: String) -> Int? { sharers.firstIndex { $0.userID == userID } }

    /// Where a sharer with `userID` goes to keep `sharers` sorted.
    func insertionIndex(of userID: String) -> Int { sharers.firstIndex { $0.userID > userID } ?? sharers.count }
}

/// A group: members in the order they joined (the first is the owner), pending requests in the
/// order they were made, and files by name.
struct Group: Equatable, Sendable {
    var members: [String]
    var pendingRequests: [String] = []
    var files: [String: StoredFile] = [:]

    /// The owner is always the longest-standing member: the creator, then whoever has been a
    /// member longest when an owner leaves.
    var owner: String { members[0] }

    func isMember(_ userID: String) -> Bool { members.contains(userID) }
}

/// The whole tracker domain as one value: users, sessions, groups and their files.
/// Equatable so tests can assert on the whole state at once.
public struct TrackerState: Equatable, Sendable {
    var users: [String: User] = [:]
    var sessions: [TokenHash: Session] = [:]
    /// The inverse of `sessions`: a user has at most one session.
    var sessionOfUser: [String: TokenHash] = [:]
    var groups: [String: Group] = [:]
    /// What each user holds against its quotas; only users holding something have an entry.
    /// Derived from `groups` (rebuilt on restore, recounted by `checkInvariants`).
    var usage: [String: UserUsage] = [:]

    /// Equal when the domain is; `usage` is derived from it.
    public static func == (lhs: TrackerState, rhs: TrackerState) -> Bool {
        lhs.users == rhs.users && lhs.sessions == rhs.sessions && lhs.sessionOfUser == rhs.sessionOfUser
            && lhs.groups == rhs.groups
    }

    /// An empty tracker.
    public init() {}

    /// Number of registered users.
    public var userCount: Int { users.count }
    /// Number of open sessions.
    public var sessionCount: Int { sessions.count }
    /// Number of groups.
    public var groupCount: Int { groups.count }
    /// Number of files over all groups.
    public var fileCount: Int { groups.values.reduce(0) { $0 + $1.files.count } }

    /// Whether `userID` has an open session, so its shares are offered to downloaders.
    public func isOnline(_ userID: String) -> Bool { sessionOfUser[userID] != nil }
}
