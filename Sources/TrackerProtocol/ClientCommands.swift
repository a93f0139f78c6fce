import BinaryCoding
import TrackerStateMachine

/// A state-changing command a client may send. It names no session and carries no time: the
/// leader binds it to the session of the token sent beside it and stamps its own clock where
/// the log command needs one (`TrackerCommand.bind` in TrackerHosting). What only a leader
/// makes (a user with its password hash, a session's opening, the expiry of sessions) has no
/// case here, so no client can send it.
public enum ClientCommand: Equatable, Sendable {
    /// Renews the caller's session lease.
    case keepAlive
    /// Ends the caller's session.
    case logout
    /// Creates a group owned by the caller.
    case createGroup(groupID: String)
    /// Asks to join a group.
    case joinGroup(groupID: String)
    /// The owner accepts `userID`'s pending request.
    case acceptRequest(groupID: String, userID: String)
    /// Leaves a group (or withdraws a pending request).
    case leaveGroup(groupID: String)
    /// Shares a file in a group.
    case uploadFile(groupID: String, metadata: FileMetadata)
    /// Adds pieces (a `PieceBitfield`) to the caller's share of a file.
    case announcePieces(groupID: String, fileName: String, pieces: [UInt8])
    /// Stops sharing a file.
    case stopShare(groupID: String, fileName: String)
}

/// A read a client may ask, answered linearizably by the leader under the caller's session.
/// The leader-only read of a user's credentials has no case here.
public enum ClientQuery: Equatable, Sendable {
    /// The caller's own session.
    case session
    /// A page of the groups.
    case listGroups(page: PageRequest = .first)
    /// A page of a group's pending join requests (owner only).
    case listRequests(groupID: String, page: PageRequest = .first)
    /// A page of a group's files (members only).
    case listFiles(groupID: String, page: PageRequest = .first)
    /// A file's metadata and the peers that share it (members only).
    case downloadInfo(groupID: String, fileName: String)
    /// For a peer serving pieces: `userID`'s session if it is an online member of the group.
    case memberSession(groupID: String, userID: String)
}

/// The client command and query formats: a tag byte, then the fields, strings bounded by
/// `ServiceCodec.fieldBytesMax` and file metadata and bitfields by `Limits.standard`. Inside a
/// request they follow its operation tag; alone (`encode()`), the request format's version
/// comes first. Decoding never traps.
extension ClientCommand {
    /// The command alone: the request format's version, then tag and fields.
    public func encode() -> [UInt8] {
        var w = ByteWriter()
        w.write(ServiceCodec.requestVersion)
        write(into: &w)
        return w.bytes
    }

    /// Decodes bytes made by `encode()`; throws on anything else.
    public static func decode(_ bytes: [UInt8]) throws -> ClientCommand {
        var r = ByteReader(bytes)
        try ServiceCodec.readRequestVersion(&r)
        let command = try read(from: &r)
        try r.expectEnd()
        return command
    }

    /// Writes the tag and fields.
    public func write(into w: inout ByteWriter) {
        switch self {
        case .keepAlive: w.write(UInt8(1))
        case .logout: w.write(UInt8(2))
        case let .createGroup(groupID): w.write(UInt8(3)); w.write(groupID)
        case let .joinGroup(groupID): w.write(UInt8(4)); w.write(groupID)
        case let .acceptRequest(groupID, userID): w.write(UInt8(5)); w.write(groupID); w.write(userID)
        case let .leaveGroup(groupID): w.write(UInt8(6)); w.write(groupID)
        case let .uploadFile(groupID, metadata): w.write(UInt8(7)); w.write(groupID); metadata.write(into: &w)
        case let .announcePieces(groupID, fileName, pieces):
            w.write(UInt8(8)); w.write(groupID); w.write(fileName); w.writeBlob(pieces)
        case let .stopShare(groupID, fileName): w.write(UInt8(9)); w.write(groupID); w.write(fileName)
        }
    }

    /// Reads what `write(into:)` wrote; an unknown tag throws.
    public static func read(from r: inout ByteReader) throws -> ClientCommand {
        let tagOffset = r.position
        switch try r.readUInt8() {
        case 1: return .keepAlive
        case 2: return .logout
        case 3: return .createGroup(groupID: try ServiceCodec.field(&r))
        case 4: return .joinGroup(groupID: try ServiceCodec.field(&r))
        case 5: return .acceptRequest(groupID: try ServiceCodec.field(&r), userID: try ServiceCodec.field(&r))
        case 6: return .leaveGroup(groupID: try ServiceCodec.field(&r))
        case 7: return .uploadFile(groupID: try ServiceCodec.field(&r), metadata: try FileMetadata.read(from: &r, limits: .standard))
        case 8:
            return .announcePieces(groupID: try ServiceCodec.field(&r), fileName: try ServiceCodec.field(&r),
                                   pieces: try PieceBitfield.readBytes(from: &r, limits: .standard))
        case 9: return .stopShare(groupID: try ServiceCodec.field(&r), fileName: try ServiceCodec.field(&r))
        default: throw DecodingError("unknown client command", offset: tagOffset)
        }
    }
}

extension ClientQuery {
    /// The query alone: the request format's version, then tag and fields.
    public func encode() -> [UInt8] {
        var w = ByteWriter()
        w.write(ServiceCodec.requestVersion)
        write(into: &w)
        return w.bytes
    }

    /// Decodes bytes made by `encode()`; throws on anything else.
    public static func decode(_ bytes: [UInt8]) throws -> ClientQuery {
        var r = ByteReader(bytes)
        try ServiceCodec.readRequestVersion(&r)
        let query = try read(from: &r)
        try r.expectEnd()
        return query
    }

    /// Writes the tag and fields.
    public func write(into w: inout ByteWriter) {
        switch self {
        case .session: w.write(UInt8(1))
        case let .listGroups(page): w.write(UInt8(2)); page.write(into: &w)
        case let .listRequests(groupID, page): w.write(UInt8(3)); w.write(groupID); page.write(into: &w)
        case let .listFiles(groupID, page): w.write(UInt8(4)); w.write(groupID); page.write(into: &w)
        case let .downloadInfo(groupID, fileName): w.write(UInt8(5)); w.write(groupID); w.write(fileName)
        case let .memberSession(groupID, userID): w.write(UInt8(6)); w.write(groupID); w.write(userID)
        }
    }

    /// Reads what `write(into:)` wrote; an unknown tag throws.
    public static func read(from r: inout ByteReader) throws -> ClientQuery {
        let tagOffset = r.position
        switch try r.readUInt8() {
        case 1: return .session
        case 2: return .listGroups(page: try PageRequest.read(from: &r))
        case 3: return .listRequests(groupID: try ServiceCodec.field(&r), page: try PageRequest.read(from: &r))
        case 4: return .listFiles(groupID: try ServiceCodec.field(&r), page: try PageRequest.read(from: &r))
        case 5: return .downloadInfo(groupID: try ServiceCodec.field(&r), fileName: try ServiceCodec.field(&r))
        case 6: return .memberSession(groupID: try ServiceCodec.field(&r), userID: try ServiceCodec.field(&r))
        default: throw DecodingError("unknown client query", offset: tagOffset)
        }
    }
}
