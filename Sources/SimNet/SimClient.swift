import Consensus
import TrackerService
import TrackerStateMachine

/// What a simulated client is doing.
enum OpKind: Sendable {
    case createOwnUser
    case createContestedUser(String)
    case login
    case createGroup(String, isContested: Bool)
    case listGroups
    case upload(group: String, file: String)
    case downloadInfo(group: String, file: String)
    case keepAlive

    /// The uniqueness key when this op creates a user or group, with its namespace.
    var createdKey: String? {
        switch self {
        case .createOwnUser, .login, .listGroups, .upload, .downloadInfo, .keepAlive: nil
        case let .createContestedUser(key): "user:" + key
        case let .createGroup(key, _): "group:" + key
        }
    }
}

/// One operation in progress: what, the request (whose sequence retries reuse), and when the
/// client first issued it.
struct ClientOp: Sendable {
    var kind: OpKind
    var request: ClientRequest
    var invokedMicros: UInt64
    /// When the client gives up retrying and counts the outcome unknown.
    var deadlineMicros: UInt64
    var serial: Int
    var attempts = 0
    /// Whether a tracker's answer to this login was lost on the way (coverage).
    var isLoginAnswerLost = false
}

/// A simulated client: a real `LeaderFinder` for leader discovery, redirects and backoff, a
/// session, and one operation at a time with a stable (client id, sequence) across retries.
struct SimClient: Sendable {
    let index: Int
    let clientID: UInt64
    var finder: LeaderFinder
    var sequence: UInt64 = 0
    var token: [UInt8] = []
    var hasUser = false
    var current: ClientOp?
    /// Tag of the attempt or wake the client waits for; older answers and timers are ignored.
    var attempt: UInt64 = 0
    var serial = 0
    var uniqueGroupsMade = 0
    var filesMade = 0
    /// Groups this client created and was told so.
    var ownedGroups: [String] = []
    /// Files this client uploaded and was told so.
    var uploads: [(group: String, file: String)] = []

    init(index: Int, clientID: UInt64, finder: LeaderFinder) {
        self.index = index
        self.clientID = clientID
        self.finder = finder
    }

    var userID: String { "u\(index)" }
    var password: String { "pw\(index)" }

    static let peerAddressPrefix = "10.1.0."
    /// Contested keys clients race for (uniqueness under concurrency).
    static let contestedKeysMax = 6

    /// Chooses the next operation: a user and a session first, then a random mix.
    mutating func nextKind(using random: inout SeededGenerator) -> OpKind {
        if !hasUser { return .createOwnUser }
        if token.isEmpty { return .login }
        let roll = Int.random(in: 0..<100, using: &random)
        switch roll {
        case 0..<30:
            uniqueGroupsMade += 1
            return .createGroup("g\(index)-\(uniqueGroupsMade)", isContested: false)
        case 30..<40:
            return .createGroup("cg-\(Int.random(in: 0..<Self.contestedKeysMax, using: &random))", isContested: true)
        case 40..<45:
            return .createContestedUser("cu-\(Int.random(in: 0..<Self.contestedKeysMax, using: &random))")
        case 45..<70:
            return .listGroups
        case 70..<85 where !ownedGroups.isEmpty:
            filesMade += 1
            return .upload(group: ownedGroups.randomElement(using: &random)!, file: "f\(index)-\(filesMade)")
        case 85..<95 where !uploads.isEmpty:
            let pick = uploads.randomElement(using: &random)!
            return .downloadInfo(group: pick.group, file: pick.file)
        default:
            return .keepAlive
        }
    }

    /// The request for an operation, with a new sequence number.
    mutating func makeRequest(_ kind: OpKind, limits: Limits) -> ClientRequest {
        sequence += 1
        let operation: ServiceOperation
        switch kind {
        case .createOwnUser: operation = .createUser(userID: userID, password: password)
        case let .createContestedUser(key): operation = .createUser(userID: key, password: "pw-contested")
        case .login: operation = .login(userID: userID, password: password, peerAddress: "\(Self.peerAddressPrefix)\(index + 1):6000")
        case let .createGroup(key, _): operation = .command(.createGroup(tokenHash: unboundTokenHash, groupID: key))
        case .listGroups: operation = .query(.listGroups(tokenHash: unboundTokenHash))
        case let .upload(group, file):
            let metadata = FileMetadata(name: file, sizeBytes: 1_000, pieceSizeBytes: limits.pieceSizeBytes,
                                        pieceHashes: [UInt8](repeating: UInt8(index), count: Limits.sha1Bytes),
                                        fileHash: [UInt8](repeating: 7, count: Limits.sha1Bytes))
            operation = .command(.uploadFile(tokenHash: unboundTokenHash, groupID: group, metadata: metadata))
        case let .downloadInfo(group, file): operation = .query(.downloadInfo(tokenHash: unboundTokenHash, groupID: group, fileName: file))
        case .keepAlive: operation = .command(.keepAlive(tokenHash: unboundTokenHash, nowMillis: 0))
        }
        return ClientRequest(clientID: clientID, sequence: sequence, token: token, operation: operation)
    }

    /// Bytes of the session token a simulated login chooses.
    static let loginTokenBytes = 16
}
