import BinaryCoding

/// A member's part in the cluster.
public enum MemberRole: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// A full member: holds the log and the state machine, votes, counts for commit, may lead.
    case voter = 1
    /// Receives the log and snapshots and is tracked by the leader, but never counts for
    /// commit or elections and never campaigns (it may still answer a vote request: see
    /// `RaftNode.stepVoteRequest`).
    case learner = 2
    /// Votes and acknowledges the leader's durable log end, but holds no log and no state
    /// machine, and never leads (docs/witness.md).
    case witness = 3

    /// The name `tracker-node member list` prints.
    public var description: String {
        switch self {
        case .voter: "voter"
        case .learner: "learner"
        case .witness: "witness"
        }
    }
}

/// One member of a configuration. Its identity is the pair (id, incarnation): the incarnation
/// names the member's data directory, so a tracker that comes back with an empty directory
/// under an old id is not taken for the member that held it (KIP-853's directory id).
public struct Member: Equatable, Sendable {
    /// The node id.
    public var id: NodeID
    /// What the member does.
    public var role: MemberRole
    /// The member's data-directory identity; 0 means not pinned (seed members from
    /// cluster.conf): messages from the id are accepted whatever incarnation they carry.
    public var incarnation: UInt64
    /// Where the member listens, opaque to the core: printable ASCII without spaces, at most
    /// `Configuration.addressBytesMax` bytes (empty when unknown).
    public var address: String
    /// The SHA-256 fingerprint of the member's TLS certificate, opaque to the core:
    /// `Configuration.fingerprintBytes` bytes, or empty when the configuration does not pin it
    /// (seed members, whose cluster.conf lines pin them, and clusters run without TLS).
    public var fingerprint: [UInt8]

    /// Makes a member.
    public init(id: NodeID, role: MemberRole, incarnation: UInt64 = 0, address: String = "", fingerprint: [UInt8] = []) {
        self.id = id
        self.role = role
        self.incarnation = incarnation
        self.address = address
        self.fingerprint = fingerprint
    }

    /// Whether it votes and counts toward quorums (a full voter or the witness).
    public var isVoting: Bool { role != .learner }
}

/// The members of the cluster and their roles. The current configuration is the last
/// configuration entry in the log, or the one in the snapshot, or (for a brand-new cluster)
/// `RaftConfig.initialConfiguration` (Raft dissertation §4.1). A value is always valid: every
/// public way to make one checks it. Members are kept in ascending id order.
public struct Configuration: Equatable, Sendable, CustomStringConvertible {
    /// The most members a configuration holds.
    public static let membersMax = 15
    /// The longest address, in bytes.
    public static let addressBytesMax = 255
    /// The length of a certificate fingerprint (SHA-256), in bytes; a member's is this long
    /// or empty.
    public static let fingerprintBytes = 32
    /// The version byte of an encoding without fingerprints (what every configuration was
    /// before members carried them; still written when no member has one).
    static let formatVersion: UInt8 = 1
    /// The version byte of an encoding whose members carry their fingerprints.
    static let fingerprintFormatVersion: UInt8 = 2
    /// The longest encoding: version, count, and per member id, role, incarnation, address,
    /// fingerprint.
    public static let encodedBytesMax = 2 + membersMax * (8 + 1 + 8 + 2 + addressBytesMax + 1 + fingerprintBytes)

    /// What is derived from the members, computed once: a configuration is read on every
    /// message, so a copy is one reference and a lookup touches no strings.
    private final class Storage: Sendable {
        let members: [Member]
        let ids: [NodeID]
        let roles: [MemberRole]
        let incarnations: [UInt64]
        let votingIDs: [NodeID]
        let fullVoterIDs: [NodeID]
        let learnerIDs: [NodeID]
        let witnessID: NodeID?

        init(members: [Member]) {
            self.members = members
            ids = members.map(\.id)
            roles = members.map(\.role)
            incarnations = members.map(\.incarnation)
            votingIDs = members.filter(\.isVoting).map(\.id)
            fullVoterIDs = members.filter { $0.role == .voter }.map(\.id)
            learnerIDs = members.filter { $0.role == .learner }.map(\.id)
            witnessID = members.first { $0.role == .witness }?.id
        }
    }

    private let storage: Storage

    /// The members, in ascending id order.
    public var members: [Member] { storage.members }

    /// No members: a node waiting to be added to a cluster starts from it.
    public static let empty = Configuration(unchecked: [])

    /// A configuration of `members` (in any order). Throws unless it is valid: ids distinct
    /// and positive, at most `membersMax`, addresses printable ASCII without spaces, at most
    /// one witness, and at least one full voter.
    public init(_ members: [Member]) throws(ConfigError) {
        self.init(unchecked: members)
        if let violation { throw ConfigError(reason: violation) }
    }

    /// Full voters `ids`, with unknown addresses and unpinned incarnations.
    public init(voters ids: [NodeID]) throws(ConfigError) {
        try self.init(ids.map { Member(id: $0, role: .voter) })
    }

    /// Sorts without checking; `violation` says what is wrong.
    init(unchecked members: [Member]) {
        storage = Storage(members: members.sorted { $0.id < $1.id })
    }

    /// Equal when the members are.
    public static func == (a: Configuration, b: Configuration) -> Bool {
        a.storage === b.storage || a.storage.members == b.storage.members
    }

    /// Why this is not a valid configuration, or nil. The empty configuration is valid here
    /// (a node may start from it) but never as a log entry (see `entryViolation`).
    var violation: String? {
        guard members.count <= Self.membersMax else { return "at most \(Self.membersMax) members" }
        guard !ids.contains(0) else { return "member ids must be positive" }
        for (a, b) in zip(ids, ids.dropFirst()) where a == b { return "member \(a) appears twice" }
        for member in members where !Self.isValidAddress(member.address) {
            return "member \(member.id): address must be at most \(Self.addressBytesMax) printable ASCII bytes without spaces"
        }
        for member in members where !Self.isValidFingerprint(member.fingerprint) {
            return "member \(member.id): a fingerprint is empty or \(Self.fingerprintBytes) bytes"
        }
        guard storage.roles.count(where: { $0 == .witness }) <= 1 else { return "at most one witness" }
        guard members.isEmpty || !fullVoterIDs.isEmpty else { return "at least one full voter" }
        return nil
    }

    /// Whether `fingerprint` is empty or `fingerprintBytes` long.
    static func isValidFingerprint(_ fingerprint: [UInt8]) -> Bool {
        fingerprint.isEmpty || fingerprint.count == fingerprintBytes
    }

    /// Whether `address` is a usable opaque address.
    static func isValidAddress(_ address: String) -> Bool {
        address.utf8.count <= addressBytesMax && address.utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E }
    }

    /// Whether there are no members.
    public var isEmpty: Bool { storage.ids.isEmpty }

    /// The member with `id`, if any.
    public func member(_ id: NodeID) -> Member? { storage.ids.firstIndex(of: id).map { storage.members[$0] } }

    /// The role of `id`, or nil for a non-member.
    public func role(of id: NodeID) -> MemberRole? { storage.ids.firstIndex(of: id).map { storage.roles[$0] } }

    /// Whether `id` votes and counts toward quorums (a full voter or the witness).
    public func isVoting(_ id: NodeID) -> Bool { role(of: id).map { $0 != .learner } ?? false }

    /// The incarnation pinned for `id` (0: not pinned), or nil for a non-member.
    public func incarnation(of id: NodeID) -> UInt64? { storage.ids.firstIndex(of: id).map { storage.incarnations[$0] } }

    /// The ids of the voting members (full voters and the witness), ascending.
    public var votingIDs: [NodeID] { storage.votingIDs }
    /// The ids of the full voters, ascending.
    public var fullVoterIDs: [NodeID] { storage.fullVoterIDs }
    /// The ids of the learners, ascending.
    public var learnerIDs: [NodeID] { storage.learnerIDs }
    /// The witness, if there is one.
    public var witnessID: NodeID? { storage.witnessID }
    /// Every member's id, ascending.
    public var ids: [NodeID] { storage.ids }

    /// How many voting members make a majority.
    public var quorum: Int { storage.votingIDs.count / 2 + 1 }

    /// The members as `id role` pairs, for traces and test output.
    public var description: String {
        "[" + members.map { "\($0.id) \($0.role)" }.joined(separator: ", ") + "]"
    }

    /// Whether `ids` (a set of voting members, others are ignored) form a quorum.
    func isQuorum(_ ids: some Sequence<NodeID>) -> Bool {
        var count = 0
        for id in ids where isVoting(id) { count += 1 }
        return count >= quorum
    }

    /// This configuration with `member` added, or replacing the member with its id.
    func replacing(_ member: Member) -> Configuration {
        Configuration(unchecked: members.filter { $0.id != member.id } + [member])
    }

    /// This configuration without `id`.
    func removing(_ id: NodeID) -> Configuration {
        Configuration(unchecked: members.filter { $0.id != id })
    }
}

// MARK: - Encoding

extension Configuration {
    /// The encoding of a configuration entry's data and of a snapshot's configuration:
    /// `u8 version | u8 count | count × (u64 id | u8 role | u64 incarnation | u16 address
    /// length | address bytes [| u8 fingerprint length | fingerprint bytes])`, members in
    /// ascending id order. Version 1 has no fingerprints and is written when no member has
    /// one (so a cluster that pins none writes what it always wrote); version 2 has them.
    /// Either way the encoding of a value is canonical.
    public func encoded() -> [UInt8] {
        let hasFingerprints = members.contains { !$0.fingerprint.isEmpty }
        var writer = ByteWriter(capacity: 2 + members.count * (hasFingerprints ? 65 : 32))
        writer.write(hasFingerprints ? Self.fingerprintFormatVersion : Self.formatVersion)
        writer.write(UInt8(members.count))
        for member in members {
            writer.write(member.id)
            writer.write(member.role.rawValue)
            writer.write(member.incarnation)
            let address = Array(member.address.utf8)
            writer.write(UInt16(address.count))
            writer.writeRaw(address)
            if hasFingerprints {
                writer.write(UInt8(member.fingerprint.count))
                writer.writeRaw(member.fingerprint)
            }
        }
        return writer.bytes
    }

    /// Decodes `encoded()`'s bytes. Anything else throws, nothing traps: an unknown version or
    /// role, more than `membersMax` members, ids out of order, an invalid address, trailing
    /// bytes, or a configuration that breaks the rules of `init(_:)`.
    public init(decoding bytes: [UInt8]) throws(DecodingError) {
        do {
            var reader = ByteReader(bytes)
            let version = try reader.readUInt8()
            guard version == Self.formatVersion || version == Self.fingerprintFormatVersion else {
                throw DecodingError("unknown configuration version", offset: 0)
            }
            let count = Int(try reader.readUInt8())
            guard count <= Self.membersMax else { throw DecodingError("too many members", offset: 1) }
            var members: [Member] = []
            for _ in 0..<count {
                let start = reader.position
                let id = try reader.readUInt64()
                guard let role = MemberRole(rawValue: try reader.readUInt8()) else { throw DecodingError("unknown member role", offset: start + 8) }
                let incarnation = try reader.readUInt64()
                let length = Int(try reader.readUInt16())
                guard length <= Self.addressBytesMax else { throw DecodingError("address too long", offset: start + 17) }
                let address = try reader.readRaw(count: length)
                guard address.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else { throw DecodingError("address not printable ASCII", offset: start + 19) }
                var fingerprint: [UInt8] = []
                if version == Self.fingerprintFormatVersion {
                    let fingerprintLength = Int(try reader.readUInt8())
                    guard fingerprintLength == 0 || fingerprintLength == Self.fingerprintBytes else {
                        throw DecodingError("bad fingerprint length", offset: reader.position - 1)
                    }
                    fingerprint = try reader.readRaw(count: fingerprintLength)
                }
                guard id > (members.last?.id ?? 0) else { throw DecodingError("member ids not ascending", offset: start) }
                members.append(Member(id: id, role: role, incarnation: incarnation, address: String(decoding: address, as: UTF8.self),
                                      fingerprint: fingerprint))
            }
            try reader.expectEnd()
            self.init(unchecked: members)
            if let violation = entryViolation { throw DecodingError(violation, offset: 0) }
        } catch let error as DecodingError {
            throw error
        } catch {
            throw DecodingError("undecodable configuration", offset: 0)
        }
    }

    /// Why this cannot be a configuration entry or a snapshot's configuration, or nil: it must
    /// be valid and have members.
    var entryViolation: String? {
        if let violation { return violation }
        return isEmpty ? "a configuration entry has members" : nil
    }
}
