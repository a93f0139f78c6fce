import TrackerProtocol
import TrackerStateMachine

/// A session as its client holds it: the user it belongs to and the token.
public struct SpecSession: Hashable, Sendable {
    /// The session's user.
    public var userID: String
    /// The token the client was given (never printed; reports show a short digest).
    public var token: [UInt8]

    /// Makes a session.
    public init(userID: String, token: [UInt8]) {
        self.userID = userID
        self.token = token
    }
}

/// A client-visible tracker operation, as the sequential specification `TrackerSpec` sees it.
/// The last two cases are projections the partition function makes, never recorded.
public enum TrackerCall: Equatable, Sendable {
    /// `create_user`: created, or "user exists".
    case createUser(userID: String, password: String)
    /// `login`: a new session (ending the user's earlier one), or refused.
    case login(userID: String, password: String)
    /// `logout`: ends the session.
    case logout(SpecSession)
    /// Renews the session's lease.
    case keepAlive(SpecSession)
    /// `create_group`: created with the caller as owner, or "group exists".
    case createGroup(SpecSession, groupID: String)
    /// `join_group`: a pending request.
    case joinGroup(SpecSession, groupID: String)
    /// `accept_request` (owner only): the requester becomes the newest member.
    case acceptRequest(SpecSession, groupID: String, userID: String)
    /// `leave_group`: shares end, the owner hands over, an empty group is deleted.
    case leaveGroup(SpecSession, groupID: String)
    /// `list_requests` (owner only): pending requests, oldest first.
    case listRequests(SpecSession, groupID: String)
    /// `list_groups`: every group with owner and member count.
    case listGroups(SpecSession)
    /// `upload_file`: a new file, or the caller as another sharer of the same content.
    case uploadFile(SpecSession, groupID: String, metadata: FileMetadata)
    /// `list_files` (members only): files with size and online sharers.
    case listFiles(SpecSession, groupID: String)
    /// Metadata and online peers of a file (members only), what `download_file` asks first.
    case downloadInfo(SpecSession, groupID: String, fileName: String)
    /// What one `list_groups` answer says about one group.
    case groupListing(SpecSession, groupID: String)
    /// The session check an operation with a token makes before anything else.
    case sessionCheck(SpecSession)

    /// The group an operation on one group names.
    var groupID: String? {
        switch self {
        case let .createGroup(_, id), let .joinGroup(_, id), let .acceptRequest(_, id, _), let .leaveGroup(_, id),
             let .listRequests(_, id), let .uploadFile(_, id, _), let .listFiles(_, id), let .downloadInfo(_, id, _),
             let .groupListing(_, id):
            id
        case .createUser, .login, .logout, .keepAlive, .listGroups, .sessionCheck: nil
        }
    }

    /// The session an operation carries.
    var session: SpecSession? {
        switch self {
        case let .logout(s), let .keepAlive(s), let .createGroup(s, _), let .joinGroup(s, _), let .acceptRequest(s, _, _),
             let .leaveGroup(s, _), let .listRequests(s, _), let .listGroups(s), let .uploadFile(s, _, _), let .listFiles(s, _),
             let .downloadInfo(s, _, _), let .groupListing(s, _), let .sessionCheck(s):
            s
        case .createUser, .login: nil
        }
    }

    /// Whether the operation only reads (an unknown outcome then means no effect at all).
    var isRead: Bool {
        switch self {
        case .listRequests, .listGroups, .listFiles, .downloadInfo, .groupListing, .sessionCheck: true
        default: false
        }
    }
}

/// A user as the specification holds it.
public struct UserSpec: Hashable, Sendable {
    /// The password it was created with; nil while it does not exist.
    var password: String?
    /// The token of its one open session; empty for a session whose token no client learned.
    var session: [UInt8]?
}

/// A file of a group as the specification holds it.
public struct SpecFile: Hashable, Sendable {
    var name: String
    var sizeBytes: UInt64
    var pieceSizeBytes: UInt32
    var pieceHashes: [UInt8]
    var fileHash: [UInt8]
    /// Sharers, sorted by user id.
    var sharers: [String]

    /// Hashes what tells files apart in practice, not every piece hash (the checker hashes
    /// states at every step); equality still compares everything.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(sizeBytes)
        hasher.combine(sharers)
    }
}

/// A group as the specification holds it; no members means no group.
public struct GroupSpec: Hashable, Sendable {
    /// Members in the order they joined; the first is the owner.
    var members: [String] = []
    /// Pending join requests, oldest first.
    var pending: [String] = []
    /// Files sorted by name.
    var files: [SpecFile] = []

    var exists: Bool { !members.isEmpty }
}

/// The state of one partition of the specification: a user or a group.
public enum TrackerSpecState: Hashable, Sendable {
    /// A `user:<id>` partition.
    case user(UserSpec)
    /// A `group:<id>` partition.
    case group(GroupSpec)
}

/// The tracker's client-visible behaviour as a small sequential specification, written from
/// the rules (README, Sources/TrackerStateMachine/Groups.swift), not by calling the state
/// machine: users and sessions per user id, groups with their requests and files per group id.
///
/// Partitions: `user:<id>` holds its creates, logins, logouts and keepalives, and the session
/// check of every operation made with one of its sessions; `group:<id>` holds every operation
/// on that group, and each `list_groups` answer projected on that group. A projection keeps
/// the check sound (a linearizable history has linearizable projections) but not complete:
/// an anomaly visible only across keys (a listing showing a later group but not an earlier
/// one) passes. What lives in another partition is not checked here: a group operation may
/// answer "not logged in" at any time, and an online-sharer count may be anything up to the
/// sharers (at least 1 when the caller shares). A session may also end without a logout (its
/// lease ran out), so "not logged in" is always a possible answer; it ends the session.
public struct TrackerSpec: LinearizabilityModel {
    public typealias Input = TrackerCall
    public typealias Output = ClientResponse
    public typealias State = TrackerSpecState
    public typealias Operation = LinearizabilityOperation<TrackerCall, ClientResponse>

    /// The per-group bounds the tracker enforces (others span partitions and are not modelled).
    public let limits: Limits

    /// Makes the specification for trackers with these limits.
    public init(limits: Limits = .standard) {
        self.limits = limits
    }

    /// No such user, or no such group.
    public func initialState(partition: String) -> TrackerSpecState {
        partition.hasPrefix(Self.groupPrefix) ? .group(GroupSpec()) : .user(UserSpec())
    }

    static let userPrefix = "user:"
    static let groupPrefix = "group:"

    /// The rules of the partition's kind; see `TrackerSpec+Users.swift` and `+Groups.swift`.
    public func step(_ state: TrackerSpecState, _ input: TrackerCall, _ output: ClientResponse?) -> TrackerSpecState? {
        switch state {
        case let .user(user): stepUser(user, input, output).map { .user($0) }
        case let .group(group): stepGroup(group, input, output).map { .group($0) }
        }
    }

    /// Per user and per group, with the projections the type's documentation describes.
    public func partition(_ history: [Operation]) -> [LinearizabilityPartition<TrackerCall, ClientResponse>] {
        var byName: [String: [Operation]] = [:]
        var listings: [(operation: Operation, groups: [GroupSummary], through: String?)] = []
        var listedGroups: Set<String> = []
        for operation in history {
            let input = operation.input
            if operation.isOpen, input.isRead { continue } // an unknown read did nothing
            switch input {
            case let .createUser(userID, _), let .login(userID, _):
                byName[Self.userPrefix + userID, default: []].append(operation)
            case let .logout(session), let .keepAlive(session):
                byName[Self.userPrefix + session.userID, default: []].append(operation)
            case .groupListing, .sessionCheck:
                continue // projections are made here, never recorded
            case let .listGroups(session):
                byName[Self.userPrefix + session.userID, default: []].append(operation.with(input: .sessionCheck(session)))
                if case let .result(.ok(.groups(page))) = operation.output {
                    // A page that says more follow tells nothing about the groups after it.
                    listings.append((operation, page.items, page.hasMore ? page.items.last?.groupID : nil))
                    for group in page.items { listedGroups.insert(group.groupID) }
                } else if let output = operation.output, !output.isNotLoggedIn {
                    byName[Self.userPrefix + session.userID, default: []].append(operation) // a malformed answer: fails there
                }
            default:
                guard let groupID = input.groupID, let session = input.session else { continue }
                byName[Self.groupPrefix + groupID, default: []].append(operation)
                if !operation.isOpen {
                    byName[Self.userPrefix + session.userID, default: []].append(operation.with(input: .sessionCheck(session)))
                }
            }
        }
        addListings(listings, listedGroups: listedGroups, to: &byName)
        return byName.keys.sorted().map { LinearizabilityPartition(name: $0, operations: byName[$0]!) }
    }

    /// Projects every listing on every group named anywhere. A listing that returned before
    /// anything else happened to a group and does not show it is dropped: it linearizes first.
    func addListings(_ listings: [(operation: Operation, groups: [GroupSummary], through: String?)], listedGroups: Set<String>,
                     to byName: inout [String: [Operation]]) {
        guard !listings.isEmpty else { return }
        var groupIDs = listedGroups
        for name in byName.keys where name.hasPrefix(Self.groupPrefix) { groupIDs.insert(String(name.dropFirst(Self.groupPrefix.count))) }
        for groupID in groupIDs.sorted() {
            let name = Self.groupPrefix + groupID
            let firstCallMicros = byName[name]?.map(\.callMicros).min() ?? .max
            for (operation, groups, through) in listings {
                guard case let .listGroups(session) = operation.input else { continue }
                if let through, groupID > through { continue }
                if operation.returnMicros < firstCallMicros, Self.summary(of: groupID, in: groups) == nil { continue }
                byName[name, default: []].append(operation.with(input: .groupListing(session, groupID: groupID)))
            }
        }
    }

    /// The line of `groups` (sorted by id) for `groupID`.
    static func summary(of groupID: String, in groups: [GroupSummary]) -> GroupSummary? {
        var low = 0
        var high = groups.count
        while low < high {
            let mid = (low + high) / 2
            if groups[mid].groupID < groupID { low = mid + 1 } else { high = mid }
        }
        return low < groups.count && groups[low].groupID == groupID ? groups[low] : nil
    }
}
