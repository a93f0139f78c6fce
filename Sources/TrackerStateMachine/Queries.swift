/// Read-only queries. Every listing is paged and sorted by its key (group id, file name, user
/// id), never in dictionary order; download peers are bounded (see `DownloadInfo`).
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
            return .session(session.info)
        case let .listGroups(tokenHash, page):
            _ = try state.sessionUser(tokenHash)
            let (ids, hasMore) = Paging.firstKeys(of: state.groups.keys, after: page.after, count: try state.pageSize(page, limits: limits))
            return .groups(Page(items: ids.map { id in
                let group = state.groups[id]!
                return GroupSummary(groupID: id, ownerID: group.owner, memberCount: UInt32(group.members.count))
            }, hasMore: hasMore))
        case let .listRequests(tokenHash, groupID, page):
            let userID = try state.sessionUser(tokenHash)
            let group = try state.existingGroup(groupID, limits: limits)
            guard group.owner == userID else { throw TrackerError(.notOwner, groupID) }
            let (ids, hasMore) = Paging.firstKeys(of: group.pendingRequests, after: page.after, count: try state.pageSize(page, limits: limits))
            return .requests(Page(items: ids, hasMore: hasMore))
        case let .listFiles(tokenHash, groupID, page):
            let (_, group) = try state.memberAndGroup(tokenHash, groupID, limits: limits)
            let (names, hasMore) = Paging.firstKeys(of: group.files.keys, after: page.after, count: try state.pageSize(page, limits: limits))
            return .files(Page(items: names.map { name in
                let file = group.files[name]!
                let online = file.sharers.count { state.isOnline($0.userID) }
                return FileSummary(name: name, sizeBytes: file.metadata.sizeBytes, onlineSharerCount: UInt32(online))
            }, hasMore: hasMore))
        case let .memberSession(tokenHash, groupID, userID):
            _ = try state.memberAndGroup(tokenHash, groupID, limits: limits)
            let group = try state.existingGroup(groupID, limits: limits)
            guard group.isMember(userID), let token = state.sessionOfUser[userID], let session = state.sessions[token] else {
                throw TrackerError(.notMember, "\(userID) is not an online member of \(groupID)")
            }
            return .session(session.info)
        case let .downloadInfo(tokenHash, groupID, fileName):
            let (userID, group) = try state.memberAndGroup(tokenHash, groupID, limits: limits)
            return .download(downloadInfo(of: try state.existingFile(fileName, in: group, limits: limits), for: userID))
        }
    }

    /// The file's metadata and up to `downloadPeersMax` online sharers other than `userID`, in
    /// user-id order starting after `userID` and wrapping around (see `DownloadInfo`).
    func downloadInfo(of file: StoredFile, for userID: String) -> DownloadInfo {
        var online: [PeerInfo] = []
        for sharer in file.sharers where sharer.userID != userID {
            guard let token = state.sessionOfUser[sharer.userID], let session = state.sessions[token] else { continue }
            online.append(PeerInfo(userID: sharer.userID, peerAddress: session.peerAddress, pieces: sharer.pieces,
                                   certificateFingerprint: session.certificateFingerprint))
        }
        // `sharers` is sorted by user id, so `online` is too.
        let start = online.firstIndex { $0.userID > userID } ?? 0
        let listed = Array((online[start...] + online[..<start]).prefix(limits.downloadPeersMax))
        return DownloadInfo(metadata: file.metadata, peers: listed, omittedPeerCount: UInt32(online.count - listed.count))
    }
}
