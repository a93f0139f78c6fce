import TrackerProtocol
import TrackerStateMachine

/// Binding a client's request to its session, at the leader: the one place where what a client
/// may ask becomes what the log and the state machine take. The session is the hash of the
/// token the request carried (the log never holds the token), and the time is the leader's.
extension TrackerCommand {
    /// The log command for `command`, sent under the session whose token hashes to `tokenHash`,
    /// at the leader's time `nowMillis`.
    public static func bind(_ command: ClientCommand, to tokenHash: TokenHash, nowMillis: UInt64) -> TrackerCommand {
        switch command {
        case .keepAlive: .keepAlive(tokenHash: tokenHash, nowMillis: nowMillis)
        case .logout: .logout(tokenHash: tokenHash)
        case let .createGroup(groupID): .createGroup(tokenHash: tokenHash, groupID: groupID)
        case let .joinGroup(groupID): .joinGroup(tokenHash: tokenHash, groupID: groupID)
        case let .acceptRequest(groupID, userID): .acceptRequest(tokenHash: tokenHash, groupID: groupID, userID: userID)
        case let .leaveGroup(groupID): .leaveGroup(tokenHash: tokenHash, groupID: groupID)
        case let .uploadFile(groupID, metadata): .uploadFile(tokenHash: tokenHash, groupID: groupID, metadata: metadata)
        case let .announcePieces(groupID, fileName, pieces):
            .announcePieces(tokenHash: tokenHash, groupID: groupID, fileName: fileName, pieces: pieces)
        case let .stopShare(groupID, fileName): .stopShare(tokenHash: tokenHash, groupID: groupID, fileName: fileName)
        }
    }
}

extension TrackerQuery {
    /// The state machine's query for `query`, asked under the session whose token hashes to
    /// `tokenHash`.
    public static func bind(_ query: ClientQuery, to tokenHash: TokenHash) -> TrackerQuery {
        switch query {
        case .session: .session(tokenHash: tokenHash)
        case let .listGroups(page): .listGroups(tokenHash: tokenHash, page: page)
        case let .listRequests(groupID, page): .listRequests(tokenHash: tokenHash, groupID: groupID, page: page)
        case let .listFiles(groupID, page): .listFiles(tokenHash: tokenHash, groupID: groupID, page: page)
        case let .downloadInfo(groupID, fileName): .downloadInfo(tokenHash: tokenHash, groupID: groupID, fileName: fileName)
        case let .memberSession(groupID, userID): .memberSession(tokenHash: tokenHash, groupID: groupID, userID: userID)
        }
    }
}
