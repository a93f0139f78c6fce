/// Files and shares.
extension TrackerState {
    /// The file `fileName` of `group`, after checking the name.
    func existingFile(_ fileName: String, in group: Group, limits: Limits) throws(TrackerError) -> StoredFile {
        try checkName(fileName, "file name", limits: limits)
        guard let file = group.files[fileName] else { throw TrackerError(.noSuchFile, fileName) }
        return file
    }

    /// A new name makes a new file; the same name and content makes the caller a complete
    /// sharer; the same name with other content is `fileConflict`.
    mutating func uploadFile(_ tokenHash: TokenHash, groupID: String, metadata: FileMetadata,
                             limits: Limits) throws(TrackerError) -> TrackerReply {
        let (userID, group) = try memberAndGroup(tokenHash, groupID, limits: limits)
        if let why = metadata.violation(limits: limits) { throw TrackerError(.invalidInput, why) }
        let complete = PieceBitfield.complete(pieceCount: metadata.pieceCount)
        guard let file = group.files[metadata.name] else {
            guard group.files.count < limits.filesPerGroupMax else {
                throw TrackerError(.limitReached, "at most \(limits.filesPerGroupMax) files per group")
            }
            try checkQuota(userID, \.filesShared, max: limits.filesSharedPerUserMax, "files shared")
            let sharer = Sharer(userID: userID, pieces: complete)
            groups[groupID]!.files[metadata.name] = StoredFile(metadata: metadata, sharers: [sharer])
            adjustUsage(userID, \.filesShared, by: 1)
            return .done
        }
        guard file.metadata.hasSameContent(as: metadata) else { throw TrackerError(.fileConflict, metadata.name) }
        try setShare(groupID, file: file, userID: userID, pieces: complete, limits: limits)
        return .done
    }

    /// Merges the announced pieces into the caller's share; the first piece makes it a sharer.
    mutating func announcePieces(_ tokenHash: TokenHash, groupID: String, fileName: String, pieces: [UInt8],
                                 limits: Limits) throws(TrackerError) -> TrackerReply {
        let (userID, group) = try memberAndGroup(tokenHash, groupID, limits: limits)
        let file = try existingFile(fileName, in: group, limits: limits)
        if let why = PieceBitfield.violation(of: pieces, pieceCount: file.metadata.pieceCount) {
            throw TrackerError(.invalidInput, why)
        }
        guard !PieceBitfield.isEmpty(pieces) || file.metadata.pieceCount == 0 else {
            throw TrackerError(.invalidInput, "announce at least one piece")
        }
        var merged = pieces
        if let index = file.sharerIndex(of: userID) {
            for i in merged.indices { merged[i] |= file.sharers[index].pieces[i] }
        }
        try setShare(groupID, file: file, userID: userID, pieces: merged, limits: limits)
        return .done
    }

    /// Makes `userID` a sharer of `file` holding exactly `pieces`, keeping sharers sorted.
    private mutating func setShare(_ groupID: String, file: StoredFile, userID: String, pieces: [UInt8],
                                   limits: Limits) throws(TrackerError) {
        let name = file.metadata.name
        if let index = file.sharerIndex(of: userID) {
            groups[groupID]!.files[name]!.sharers[index].pieces = pieces
            return
        }
        guard file.sharers.count < limits.sharersPerFileMax else {
            throw TrackerError(.limitReached, "at most \(limits.sharersPerFileMax) sharers per file")
        }
        try checkQuota(userID, \.filesShared, max: limits.filesSharedPerUserMax, "files shared")
        let at = file.insertionIndex(of: userID)
        groups[groupID]!.files[name]!.sharers.insert(Sharer(userID: userID, pieces: pieces), at: at)
        adjustUsage(userID, \.filesShared, by: 1)
    }

    mutating func stopShare(_ tokenHash: TokenHash, groupID: String, fileName: String,
                            limits: Limits) throws(TrackerError) -> TrackerReply {
        let (userID, group) = try memberAndGroup(tokenHash, groupID, limits: limits)
        let file = try existingFile(fileName, in: group, limits: limits)
        guard let index = file.sharerIndex(of: userID) else { throw TrackerError(.notSharing, fileName) }
        if file.sharers.count == 1 {
            groups[groupID]!.files[fileName] = nil
        } else {
            groups[groupID]!.files[fileName]!.sharers.remove(at: index)
        }
        adjustUsage(userID, \.filesShared, by: -1)
        return .done
    }
}
