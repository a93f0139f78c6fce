/// Read-only queries. Every listing is sorted (group id, file name, user id) or in a stored
/// order (join requests oldest first), never in dictionary order.
extension TrackerStateMachine {
    /// Answers a query from the current state; never changes it.
    public func query(_ query: TrackerQuery) -> TrackerResult {
        do {
            return .ok(try answer(query))
        } catch {
            return .failed(error)
        }
    }

    func answer(_ query: TrackerQuery) throws(TrackerError) -> TrackerReply {
        switch query {
        case let .credentials(userID):
            try state.checkName(userID, "user id", limits: limits)
            guard let user = state.users[userID] else { throw TrackerError(.noSuchUser, userID) }
            return .credentials(salt: user.salt, passwordHash: user.passwordHash)
        case let .session(tokenHash):
            guard let session = state.sessions[tokenHash] else { throw TrackerError(.notLoggedIn) }
            return .session(SessionInfo(userID: session.userID, peerAddress: session.peerAddress,
                                        leaseExpiryMillis: session.leaseExpiryMillis))
        case let .listGroups(tokenHash):
            _ = try state.sessionUser(tokenHash)
            return .groups(state.groups.keys.sorted().map { id in
                let group = state.groups[id]!
                return GroupSummary(groupID: id, ownerID: group.owner, memberCount: UInt32(group.members.count))
            })
        case let .listRequests(tokenHash, groupID):
            let userID = try state.sessionUser(tokenHash)
            let group = try state.existingGroup(groupID, limits: limits)
            guard group.owner == userID else { throw TrackerError(.notOwner, groupID) }
            return .requests(group.pendingRequests)
        case let .listFiles(tokenHash, groupID):
            let (_, group) = try state.memberAndGroup(tokenHash, groupID, limits: limits)
            return .files(group.files.keys.sorted().map { name in
                let file = group.files[name]!
                let online = file.sharers.count { state.isOnline($0.userID) }
                return FileSummary(name: name, sizeBytes: file.metadata.sizeBytes, onlineSharerCount: UInt32(online))
            })
        case let .memberSession(tokenHash, groupID, userID):
            _ = try state.memberAndGroup(tokenHash, groupID, limits: limits)
            let group = try state.existingGroup(groupID, limits: limits)
            guard group.isMember(userID), let token = state.sessionOfUser[userID], let session = state.sessions[token] else {
                throw TrackerError(.notMember, "\(userID) is not an online member of \(groupID)")
            }
            return .session(SessionInfo(userID: userID, peerAddress: session.peerAddress, leaseExpiryMillis: session.leaseExpiryMillis))
        case let .downloadInfo(tokenHash, groupID, fileName):
            let (userID, group) = try state.memberAndGroup(tokenHash, groupID, limits: limits)
            let file = try state.existingFile(fileName, in: group, limits: limits)
            var peers: [PeerInfo] = []
            for sharer in file.sharers where sharer.userID != userID {
                guard let token = state.sessionOfUser[sharer.userID] else { continue }
                peers.append(PeerInfo(userID: sharer.userID, peerAddress: state.sessions[token]!.peerAddress, pieces: sharer.pieces))
            }
            return .download(DownloadInfo(metadata: file.metadata, peers: peers))
        }
    }
}
