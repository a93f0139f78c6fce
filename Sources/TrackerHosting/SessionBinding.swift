import TrackerStateMachine

/// Binding a client's request to its session: the leader replaces the (empty) token hash a
/// client sends with the hash of the client's token, and stamps time where a command needs it.
/// Commands only the leader may make (`createUser` with a hash, `openSession`,
/// `expireSessions`) and the `credentials` query are refused from clients.
extension TrackerCommand {
    /// The command with `tokenHash` as its session and `nowMillis` as its time, or nil when a
    /// client may not send this kind of command.
    public func bound(to tokenHash: TokenHash, nowMillis: UInt64) -> TrackerCommand? {
        switch self {
        case .createUser, .openSession, .expireSessions:
            return nil
        case .keepAlive:
            return .keepAlive(tokenHash: tokenHash, nowMillis: nowMillis)
        case .logout:
            return .logout(tokenHash: tokenHash)
        case let .createGroup(_, groupID):
            return .createGroup(tokenHash: tokenHash, groupID: groupID)
        case let .joinGroup(_, groupID):
            return .joinGroup(tokenHash: tokenHash, groupID: groupID)
        case let .acceptRequest(_, groupID, userID):
            return .acceptRequest(tokenHash: tokenHash, groupID: groupID, userID: userID)
        case let .leaveGroup(_, groupID):
            return .leaveGroup(tokenHash: tokenHash, groupID: groupID)
        case let .uploadFile(_, groupID, metadata):
            return .uploadFile(tokenHash: tokenHash, groupID: groupID, metadata: metadata)
        case let .announcePieces(_, groupID, fileName, pieces):
            return .announcePieces(tokenHash: tokenHash, groupID: groupID, fileName: fileName, pieces: pieces)
        case let .stopShare(_, groupID, fileName):
            return .stopShare(tokenHash: tokenHash, groupID: groupID, fileName: fileName)
        }
    }
}

extension TrackerQuery {
    /// The query with `tokenHash` as its session, or nil when a client may not ask it.
    public func bound(to tokenHash: TokenHash) -> TrackerQuery? {
        switch self {
        case .credentials:
            return nil
        case .session:
            return .session(tokenHash: tokenHash)
        case let .listGroups(_, page):
            return .listGroups(tokenHash: tokenHash, page: page)
        case let .listRequests(_, groupID, page):
            return .listRequests(tokenHash: tokenHash, groupID: groupID, page: page)
        case let .listFiles(_, groupID, page):
            return .listFiles(tokenHash: tokenHash, groupID: groupID, page: page)
        case let .downloadInfo(_, groupID, fileName):
            return .downloadInfo(tokenHash: tokenHash, groupID: groupID, fileName: fileName)
        case let .memberSession(_, groupID, userID):
            return .memberSession(tokenHash: tokenHash, groupID: groupID, userID: userID)
        }
    }
}
