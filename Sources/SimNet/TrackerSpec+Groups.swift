import TrackerProtocol
import TrackerStateMachine

/// The specification's rules for groups, join requests and files, checked in the order the
/// tracker checks them (so the first rule broken names the error).
extension TrackerSpec {
    /// What a rule says an operation answers.
    enum Expected {
        case done
        case error(TrackerError.Code)
        /// A read, whose answer `accepts` judges.
        case read
    }

    func stepGroup(_ group: GroupSpec, _ input: TrackerCall, _ output: ClientResponse?) -> GroupSpec? {
        // The session check comes first; the session's own partition judges it.
        if let output, output.isNotLoggedIn { return group }
        let (expected, next) = rule(group, input)
        guard let output else { return next }
        switch expected {
        case .done:
            if case .result(.ok(.done)) = output { return next }
            // "Limit reached" on a create counts groups over all partitions.
            if case .createGroup = input, Self.isError(output, .limitReached) { return group }
            return nil
        case let .error(code):
            return Self.isError(output, code) ? group : nil
        case .read:
            return accepts(group, input, output) ? group : nil
        }
    }

    static func isError(_ output: ClientResponse, _ code: TrackerError.Code) -> Bool {
        if case let .result(.failed(error)) = output { error.code == code } else { false }
    }

    /// The answer a rule gives and the state after it.
    func rule(_ group: GroupSpec, _ input: TrackerCall) -> (Expected, GroupSpec) {
        let caller = input.session?.userID ?? ""
        if case .createGroup = input {
            return group.exists ? (.error(.groupExists), group) : (.done, GroupSpec(members: [caller]))
        }
        if case .groupListing = input { return (.read, group) }
        guard group.exists else { return (.error(.noSuchGroup), group) }
        if case .leaveGroup = input, let index = group.pending.firstIndex(of: caller) {
            var next = group // leaving while a request is pending withdraws it
            next.pending.remove(at: index)
            return (.done, next)
        }
        switch input {
        case .joinGroup:
            if group.members.contains(caller) { return (.error(.alreadyMember), group) }
            if group.pending.contains(caller) { return (.error(.alreadyPending), group) }
            if group.pending.count >= limits.pendingRequestsPerGroupMax { return (.error(.limitReached), group) }
            var next = group
            next.pending.append(caller)
            return (.done, next)
        case let .acceptRequest(_, _, userID):
            if group.members[0] != caller { return (.error(.notOwner), group) }
            guard let index = group.pending.firstIndex(of: userID) else { return (.error(.noSuchRequest), group) }
            if group.members.count >= limits.membersPerGroupMax { return (.error(.limitReached), group) }
            var next = group
            next.pending.remove(at: index)
            next.members.append(userID)
            return (.done, next)
        case .listRequests:
            return group.members[0] == caller ? (.read, group) : (.error(.notOwner), group)
        default:
            guard group.members.contains(caller) else { return (.error(.notMember), group) }
            return memberRule(group, input, caller: caller)
        }
    }

    /// Rules for operations only members may make.
    func memberRule(_ group: GroupSpec, _ input: TrackerCall, caller: String) -> (Expected, GroupSpec) {
        switch input {
        case .leaveGroup:
            return (.done, Self.leaving(group, caller))
        case let .uploadFile(_, _, metadata):
            return upload(group, metadata, caller: caller)
        case let .downloadInfo(_, _, fileName):
            return group.files.contains { $0.name == fileName } ? (.read, group) : (.error(.noSuchFile), group)
        default:
            return (.read, group) // listFiles
        }
    }

    /// The leaver's shares end and files nobody shares go; the longest-standing remaining
    /// member owns the group; a group left empty is deleted with its files and requests.
    static func leaving(_ group: GroupSpec, _ userID: String) -> GroupSpec {
        guard group.members.count > 1 else { return GroupSpec() }
        var next = group
        next.members.removeAll { $0 == userID }
        next.files = next.files.compactMap { file in
            var file = file
            file.sharers.removeAll { $0 == userID }
            return file.sharers.isEmpty ? nil : file
        }
        return next
    }

    /// A new name makes a file the caller shares; the same name and content adds the caller
    /// as a sharer; the same name with other content is a conflict.
    func upload(_ group: GroupSpec, _ metadata: FileMetadata, caller: String) -> (Expected, GroupSpec) {
        var next = group
        guard let index = group.files.firstIndex(where: { $0.name == metadata.name }) else {
            if group.files.count >= limits.filesPerGroupMax { return (.error(.limitReached), group) }
            let file = SpecFile(name: metadata.name, sizeBytes: metadata.sizeBytes, pieceSizeBytes: metadata.pieceSizeBytes,
                                pieceHashes: metadata.pieceHashes, fileHash: metadata.fileHash, sharers: [caller])
            next.files.insert(file, at: group.files.firstIndex { $0.name > metadata.name } ?? group.files.count)
            return (.done, next)
        }
        let file = group.files[index]
        guard Self.hasContent(file, metadata) else { return (.error(.fileConflict), group) }
        if file.sharers.contains(caller) { return (.done, group) }
        if file.sharers.count >= limits.sharersPerFileMax { return (.error(.limitReached), group) }
        next.files[index].sharers.insert(caller, at: file.sharers.firstIndex { $0 > caller } ?? file.sharers.count)
        return (.done, next)
    }

    static func hasContent(_ file: SpecFile, _ metadata: FileMetadata) -> Bool {
        file.sizeBytes == metadata.sizeBytes && file.pieceSizeBytes == metadata.pieceSizeBytes
            && file.pieceHashes == metadata.pieceHashes && file.fileHash == metadata.fileHash
    }
}
