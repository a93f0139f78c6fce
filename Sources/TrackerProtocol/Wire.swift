import BinaryCoding
import TrackerStateMachine

/// What a client asks a tracker. Commands and queries name no session: the client sends its
/// raw session token beside them, and the leader binds them to the token's hash, so the log
/// only ever holds hashes and the token itself is proof of the session.
public enum ServiceOperation: Equatable, Sendable {
    /// Register a user; the leader hashes the password before anything is logged.
    case createUser(userID: String, password: String)
    /// Check a password and open a session bound to the client's piece-serving address and to
    /// the certificate (its SHA-256, 32 bytes) the client presents to its tracker and its peers.
    /// Over TLS the tracker refuses a login whose connection presented another certificate;
    /// empty only in a cluster run without TLS (`--insecure`).
    case login(userID: String, password: String, peerAddress: String, certificateFingerprint: [UInt8] = [])
    /// A state-changing command.
    case command(ClientCommand)
    /// A read, answered linearizably by the leader.
    case query(ClientQuery)
    /// This tracker's view of the cluster; any tracker answers, leader or not.
    case clusterStatus
}

/// One request: the client's identity for exactly-once answers, its session token (empty when
/// not logged in) and what it asks.
public struct ClientRequest: Equatable, Sendable {
    /// The client's id, random per client process.
    public var clientID: UInt64
    /// The request's number: increasing per client, reused by a retry of the same request.
    public var sequence: UInt64
    /// The raw session token, or empty.
    public var token: [UInt8]
    /// What to do.
    public var operation: ServiceOperation
    /// For a data-plane query (`ClientQuery.isStaleReadable`): a tracker that knows no live
    /// leader may answer from its applied state, marked `possiblyStale`. Every other tracker,
    /// and every other request, ignores it. Sent as a trailing flags byte only when set.
    public var allowsStale: Bool

    /// Makes a request.
    public init(clientID: UInt64, sequence: UInt64, token: [UInt8] = [], operation: ServiceOperation, allowsStale: Bool = false) {
        self.clientID = clientID
        self.sequence = sequence
        self.token = token
        self.operation = operation
        self.allowsStale = allowsStale
    }
}

/// A tracker's answer.
public enum ClientResponse: Equatable, Sendable {
    /// The command was committed and applied (or the read served) with this result.
    case result(TrackerResult)
    /// A login succeeded: keep `token` secret and send it with every request.
    case loggedIn(token: [UInt8], session: SessionInfo)
    /// This tracker is not the leader; try `address`, the leader's.
    case redirect(leader: TrackerID, address: String)
    /// No leader is known right now; retry after a pause, on any tracker.
    case noLeader
    /// The request cannot be served now (overloaded, transferring); retry after a pause.
    case retryLater(reason: String)
    /// The request is malformed or not allowed; retrying will not help.
    case rejected(reason: String)
    /// The answer to `clusterStatus`.
    case status(TrackerStatus)
    /// A data-plane query answered from a tracker's applied state while it knows no leader
    /// (asked with `allowsStale`): possibly behind what the cluster committed.
    case possiblyStale(TrackerResult, StaleMark)
}

/// A request in a format this tracker does not speak: a client of another build. The tracker
/// answers it with `rejected(reason: description)` in the response format every build reads.
public struct UnsupportedRequestVersion: Error, Equatable, Sendable, CustomStringConvertible {
    /// The version the request carried.
    public var version: UInt8

    /// The refusal of a request that carried `version`.
    public init(version: UInt8) { self.version = version }

    /// Why the request was refused, and what to do.
    public var description: String {
        "request format \(version) is not supported (this tracker speaks \(ServiceCodec.requestVersion)): upgrade the client"
    }
}

/// The encodings of requests and responses. Decoding bounds every length and never traps.
public enum ServiceCodec {
    /// Format version, first byte of every request: 2 since commands and queries are the
    /// client's own (`ClientCommand`, `ClientQuery`) rather than log commands with empty fields.
    public static let requestVersion: UInt8 = 2
    /// Format version, first byte of every response (unchanged, so a tracker's refusal of an
    /// old request reaches an old client readably).
    public static let responseVersion: UInt8 = 1
    /// Longest password, user id or address accepted on decode.
    public static let fieldBytesMax = 1_024
    /// Longest token accepted.
    public static let tokenBytesMax = 64
    /// Longest embedded result.
    public static let bodyBytesMax = 8 << 20

    /// Encodes a request.
    public static func encode(_ request: ClientRequest) -> [UInt8] {
        var w = ByteWriter()
        w.write(requestVersion)
        w.write(request.clientID)
        w.write(request.sequence)
        w.writeBlob(request.token)
        switch request.operation {
        case let .createUser(userID, password):
            w.write(UInt8(1)); w.write(userID); w.write(password)
        case let .login(userID, password, peerAddress, fingerprint):
            // Tag 6 since logins carry the certificate fingerprint; tag 2 (without) still decodes.
            w.write(UInt8(6)); w.write(userID); w.write(password); w.write(peerAddress); w.writeBlob(fingerprint)
        case let .command(command):
            w.write(UInt8(3)); command.write(into: &w)
        case let .query(query):
            w.write(UInt8(4)); query.write(into: &w)
        case .clusterStatus:
            w.write(UInt8(5))
        }
        if request.allowsStale { w.write(RequestFlags.allowsStale) }
        return w.bytes
    }

    /// Decodes a request; throws `UnsupportedRequestVersion` for another build's format and
    /// `DecodingError` on anything malformed.
    public static func decodeRequest(_ bytes: [UInt8]) throws -> ClientRequest {
        var r = ByteReader(bytes)
        try readRequestVersion(&r)
        let clientID = try r.readUInt64()
        let sequence = try r.readUInt64()
        let token = try r.readBlob(maxCount: tokenBytesMax)
        let tagOffset = r.position
        let operation: ServiceOperation
        switch try r.readUInt8() {
        case 1: operation = .createUser(userID: try field(&r), password: try field(&r))
        case 2: operation = .login(userID: try field(&r), password: try field(&r), peerAddress: try field(&r))
        case 3: operation = .command(try ClientCommand.read(from: &r))
        case 4: operation = .query(try ClientQuery.read(from: &r))
        case 5: operation = .clusterStatus
        case 6:
            operation = .login(userID: try field(&r), password: try field(&r), peerAddress: try field(&r),
                               certificateFingerprint: try fingerprint(&r))
        default: throw DecodingError("unknown operation", offset: tagOffset)
        }
        let allowsStale = try RequestFlags.read(&r)
        try r.expectEnd()
        return ClientRequest(clientID: clientID, sequence: sequence, token: token, operation: operation, allowsStale: allowsStale)
    }

    /// Encodes a response.
    public static func encode(_ response: ClientResponse) -> [UInt8] {
        var w = ByteWriter()
        w.write(responseVersion)
        switch response {
        case let .result(result):
            w.write(UInt8(1)); w.writeBlob(result.encode())
        case let .loggedIn(token, session):
            w.write(UInt8(2)); w.writeBlob(token); w.write(session.userID); w.write(session.peerAddress)
            w.write(session.leaseExpiryMillis)
        case let .redirect(leader, address):
            w.write(UInt8(3)); w.write(leader); w.write(address)
        case .noLeader:
            w.write(UInt8(4))
        case let .retryLater(reason):
            w.write(UInt8(5)); w.write(reason)
        case let .rejected(reason):
            w.write(UInt8(6)); w.write(reason)
        case let .status(status):
            w.write(UInt8(7)); write(status, into: &w)
        case let .possiblyStale(result, mark):
            w.write(UInt8(8)); w.writeBlob(result.encode()); w.write(mark.tracker); w.write(mark.appliedIndex)
        }
        return w.bytes
    }

    /// Decodes a response; throws `DecodingError` on anything malformed.
    public static func decodeResponse(_ bytes: [UInt8]) throws -> ClientResponse {
        var r = ByteReader(bytes)
        let v = try r.readUInt8()
        guard v == responseVersion else { throw DecodingError("response format \(v), expected \(responseVersion)", offset: 0) }
        let tagOffset = r.position
        let response: ClientResponse
        switch try r.readUInt8() {
        case 1: response = .result(try TrackerResult.decode(try r.readBlob(maxCount: bodyBytesMax)))
        case 2:
            let token = try r.readBlob(maxCount: tokenBytesMax)
            let session = SessionInfo(userID: try field(&r), peerAddress: try field(&r), leaseExpiryMillis: try r.readUInt64())
            response = .loggedIn(token: token, session: session)
        case 3: response = .redirect(leader: try r.readUInt64(), address: try field(&r))
        case 4: response = .noLeader
        case 5: response = .retryLater(reason: try field(&r))
        case 6: response = .rejected(reason: try field(&r))
        case 7: response = .status(try readStatus(&r))
        case 8:
            let result = try TrackerResult.decode(try r.readBlob(maxCount: bodyBytesMax))
            response = .possiblyStale(result, StaleMark(tracker: try r.readUInt64(), appliedIndex: try r.readUInt64()))
        default: throw DecodingError("unknown response", offset: tagOffset)
        }
        try r.expectEnd()
        return response
    }

    static func readRequestVersion(_ r: inout ByteReader) throws {
        let v = try r.readUInt8()
        guard v == requestVersion else { throw UnsupportedRequestVersion(version: v) }
    }

    static func field(_ r: inout ByteReader) throws -> String { try r.readString(maxBytes: fieldBytesMax) }

    /// A certificate fingerprint: empty or 32 bytes.
    static func fingerprint(_ r: inout ByteReader) throws -> [UInt8] {
        let start = r.position
        let bytes = try r.readBlob(maxCount: NameRule.fingerprintBytes)
        guard NameRule.isValidFingerprint(bytes) else { throw DecodingError("bad certificate fingerprint length", offset: start) }
        return bytes
    }

    static func write(_ s: TrackerStatus, into w: inout ByteWriter) {
        w.write(s.id); w.write(s.role.rawValue); w.write(s.term); w.write(s.leader)
        w.write(s.commitIndex); w.write(s.appliedIndex); w.write(s.lastIndex)
        w.write(UInt32(s.followerMatch.count))
        for f in s.followerMatch { w.write(f.id); w.write(f.matchIndex) }
        w.write(UInt32(s.members.count))
        for m in s.members { w.write(m.id); w.write(m.role.rawValue); w.write(m.address) }
        // Added with runtime members' pins: absent (old trackers) means no member is pinned.
        if s.members.contains(where: { !$0.fingerprint.isEmpty }) {
            for m in s.members { w.writeBlob(m.fingerprint) }
        }
    }

    static func readStatus(_ r: inout ByteReader) throws -> TrackerStatus {
        let id = try r.readUInt64()
        let roleOffset = r.position
        guard let role = TrackerRole(rawValue: try r.readUInt8()) else { throw DecodingError("unknown role", offset: roleOffset) }
        var s = TrackerStatus(id: id, role: role, term: try r.readUInt64(), leader: try r.readUInt64(),
                              commitIndex: try r.readUInt64(), appliedIndex: try r.readUInt64(),
                              lastIndex: try r.readUInt64(), followerMatch: [])
        let count = try r.readCount(maxCount: 64)
        for _ in 0..<count {
            s.followerMatch.append(.init(id: try r.readUInt64(), matchIndex: try r.readUInt64()))
        }
        let memberCount = try r.readCount(maxCount: 64)
        for _ in 0..<memberCount {
            let id = try r.readUInt64()
            let offset = r.position
            guard let role = TrackerStatus.MemberRole(rawValue: try r.readUInt8()) else { throw DecodingError("unknown member role", offset: offset) }
            s.members.append(.init(id: id, address: try field(&r), role: role))
        }
        if !r.isAtEnd {
            for index in s.members.indices { s.members[index].fingerprint = try fingerprint(&r) }
        }
        return s
    }
}

/// Frame types of the tracker protocol (after the handshake), carried by Networking's frames.
public enum ServiceFrame {
    /// A Raft message between trackers: `RaftCodec.encode(message)`.
    public static let raftMessage: UInt8 = 16
    /// A client's request: u64 tag, then `ServiceCodec.encode(request)`.
    public static let request: UInt8 = 17
    /// A tracker's response: u64 tag (the request's), then `ServiceCodec.encode(response)`.
    public static let response: UInt8 = 18

    /// A tag followed by a body.
    public static func tagged(_ tag: UInt64, _ body: [UInt8]) -> [UInt8] {
        var w = ByteWriter(capacity: body.count + 8)
        w.write(tag)
        w.writeRaw(body)
        return w.bytes
    }

    /// Splits a tagged payload into its tag and body.
    public static func untagged(_ payload: [UInt8]) throws -> (tag: UInt64, body: [UInt8]) {
        var r = ByteReader(payload)
        let tag = try r.readUInt64()
        return (tag, Array(payload[8...]))
    }
}
