import SeededRandom
import TrackerProtocol
import TrackerStateMachine

/// What a simulated client is doing.
enum OpKind: Sendable {
    case createOwnUser
    case createContestedUser(String)
    /// Logs in as the client's own user, or as `SimClient.loginUser` when that is set.
    case login
    case createGroup(String, isContested: Bool)
    case listGroups
    case upload(group: String, file: String)
    case downloadInfo(group: String, file: String)
    case keepAlive
    case joinGroup(String)
    case acceptRequest(group: String, user: String)
    case leaveGroup(String)
    case listRequests(String)
    case listFiles(String)
    case logout
    /// A keepalive with the client's session of a contested user.
    case keepAliveContested(String)

    /// The uniqueness key when this op creates a user or a group nobody can delete (only its
    /// creator is ever a member), with its namespace. Contested groups can be left, deleted and
    /// created again: the linearizability checker judges those.
    var createdKey: String? {
        switch self {
        case let .createContestedUser(key): "user:" + key
        case let .createGroup(key, isContested): isContested ? nil : "group:" + key
        default: nil
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
    /// When the current attempt was sent, for the adaptive attempt timeout.
    var attemptSentMicros: UInt64 = 0
    /// Recent answer times (not password work), as `TrackerClient` keeps them.
    var answers = AnswerTimes()
    var serial = 0
    var uniqueGroupsMade = 0
    var filesMade = 0
    /// Groups this client created and was told so.
    var ownedGroups: [String] = []
    /// Files this client uploaded and was told so.
    var uploads: [(group: String, file: String)] = []
    /// The contested user the current `.login` is for; nil for the client's own user.
    var loginUser: String?
    /// The client's session of a contested user (other clients' logins end it).
    var contestedSession: (userID: String, token: [UInt8])?
    /// Contested groups this client created and has not left (others' leaving may have made
    /// it the owner of more): where it looks for requests to accept.
    var contestedOwned: [String] = []
    /// A pending join request a `list_requests` showed: the next operation accepts it.
    var acceptCandidate: (group: String, user: String)?

    init(index: Int, clientID: UInt64, finder: LeaderFinder) {
        self.index = index
        self.clientID = clientID
        self.finder = finder
    }

    var userID: String { "u\(index)" }
    var password: String { "pw\(index)" }

    static let peerAddressPrefix = "10.1.0."
    /// Contested user ids clients race to create and log in as.
    static let contestedKeysMax = 4
    /// Contested users clients log in as (each login ends the other clients' session of it).
    static let contestedLoginUsers = 2
    /// Contested groups (`cg-k`) every client creates, joins, accepts into, leaves and shares
    /// files in: few, so the linearizability checker sees contention.
    static let contestedGroupCount = 3
    /// Contested file names (`cf-k`) in contested groups.
    static let contestedFileCount = 2

    /// Whether a group is one of the contested ones, which anyone may join, leave or delete.
    static func isContested(_ groupID: String) -> Bool { groupID.hasPrefix("cg-") }

    /// Chooses the next operation: a user and a session first, then a random mix that
    /// exercises every operation the linearizability spec covers, on few contested keys.
    mutating func nextKind(using random: inout SeededGenerator) -> OpKind {
        loginUser = nil
        if !hasUser { return .createOwnUser }
        if token.isEmpty { return .login }
        if let candidate = acceptCandidate { return .acceptRequest(group: candidate.group, user: candidate.user) }
        func pick(_ count: Int) -> Int { Int.random(in: 0..<count, using: &random) }
        let group = "cg-\(pick(Self.contestedGroupCount))" // see isContested
        let roll = pick(100)
        switch roll {
        case 0..<5:
            uniqueGroupsMade += 1
            return .createGroup("g\(index)-\(uniqueGroupsMade)", isContested: false)
        case 5..<12: return .createGroup(group, isContested: true)
        case 12..<15: return .createContestedUser("cu-\(pick(Self.contestedKeysMax))")
        case 15..<18:
            loginUser = "cu-\(pick(Self.contestedLoginUsers))"
            return .login
        case 18..<21 where contestedSession != nil: return .keepAliveContested(contestedSession!.userID)
        case 21..<33: return .listGroups
        case 33..<41: return .joinGroup(group)
        case 41..<46: return .listRequests(contestedOwned.isEmpty ? group : contestedOwned.randomElement(using: &random)!)
        case 46..<52:
            return .acceptRequest(group: group, user: "u\(pick(Self.clientCountForUsers))")
        case 52..<56: return .leaveGroup(group)
        case 56..<61 where !ownedGroups.isEmpty:
            filesMade += 1
            return .upload(group: ownedGroups.randomElement(using: &random)!, file: "f\(index)-\(filesMade)")
        case 56..<66: return .upload(group: group, file: "cf-\(pick(Self.contestedFileCount))")
        case 66..<74: return .listFiles(group)
        case 74..<79 where !uploads.isEmpty:
            let pick = uploads.randomElement(using: &random)!
            return .downloadInfo(group: pick.group, file: pick.file)
        case 74..<84: return .downloadInfo(group: group, file: "cf-\(pick(Self.contestedFileCount))")
        case 84..<86: return .logout
        default: return .keepAlive
        }
    }

    /// Users `u0`… a client may accept into a group without having seen a request.
    static let clientCountForUsers = 4

    /// The file a client uploads: contested names get one of two contents (by client parity),
    /// so uploads of one name by two clients either share it or conflict.
    func metadata(_ file: String, limits: Limits) -> FileMetadata {
        let digest = file.hasPrefix("cf-") ? UInt8(index % 2) : UInt8(truncatingIfNeeded: index)
        return FileMetadata(name: file, sizeBytes: 1_000, pieceSizeBytes: limits.pieceSizeBytes,
                            pieceHashes: [UInt8](repeating: digest, count: Limits.sha1Bytes),
                            fileHash: [UInt8](repeating: 7, count: Limits.sha1Bytes))
    }

    /// The request for an operation, with a new sequence number.
    mutating func makeRequest(_ kind: OpKind, limits: Limits) -> ClientRequest {
        sequence += 1
        let operation: ServiceOperation
        switch kind {
        case .createOwnUser: operation = .createUser(userID: userID, password: password)
        case let .createContestedUser(key): operation = .createUser(userID: key, password: Self.contestedPassword)
        case .login:
            let user = loginUser ?? userID
            operation = .login(userID: user, password: loginUser == nil ? password : Self.contestedPassword,
                               peerAddress: "\(Self.peerAddressPrefix)\(index + 1):6000")
        case let .createGroup(key, _): operation = .command(.createGroup(groupID: key))
        case .listGroups: operation = .query(.listGroups())
        case let .upload(group, file):
            operation = .command(.uploadFile(groupID: group, metadata: metadata(file, limits: limits)))
        case let .downloadInfo(group, file): operation = .query(.downloadInfo(groupID: group, fileName: file))
        case .keepAlive, .keepAliveContested: operation = .command(.keepAlive)
        case let .joinGroup(group): operation = .command(.joinGroup(groupID: group))
        case let .acceptRequest(group, user):
            operation = .command(.acceptRequest(groupID: group, userID: user))
        case let .leaveGroup(group): operation = .command(.leaveGroup(groupID: group))
        case let .listRequests(group): operation = .query(.listRequests(groupID: group))
        case let .listFiles(group): operation = .query(.listFiles(groupID: group))
        case .logout: operation = .command(.logout)
        }
        var session = token
        if case .keepAliveContested = kind { session = contestedSession?.token ?? [] }
        return ClientRequest(clientID: clientID, sequence: sequence, token: session, operation: operation)
    }

    /// Bytes of the session token a simulated login chooses.
    static let loginTokenBytes = 16

    /// The password of every contested user.
    static let contestedPassword = "pw-contested"
}
