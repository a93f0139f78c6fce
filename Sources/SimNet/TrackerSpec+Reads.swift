import TrackerProtocol
import TrackerStateMachine

/// The specification's reads: what each may answer from a group's state.
extension TrackerSpec {
    func accepts(_ group: GroupSpec, _ input: TrackerCall, _ output: ClientResponse) -> Bool {
        guard case let .result(.ok(reply)) = output else { return false }
        let caller = input.session?.userID ?? ""
        switch (input, reply) {
        case let (.groupListing(_, groupID), .groups(page)):
            guard let line = Self.summary(of: groupID, in: page.items) else { return !group.exists }
            return group.exists && line.ownerID == group.members[0] && Int(line.memberCount) == group.members.count
        case let (.listRequests, .requests(page)):
            // Sorted by user id; a page that says more follow holds a prefix.
            let pending = group.pending.sorted()
            return page.hasMore ? pending.starts(with: page.items) && page.items.count < pending.count : page.items == pending
        case let (.listFiles, .files(page)):
            return Self.acceptsFiles(page.items, group, caller: caller, isComplete: !page.hasMore)
        case let (.downloadInfo(_, _, fileName), .download(info)):
            guard let file = group.files.first(where: { $0.name == fileName }) else { return false }
            return Self.acceptsDownload(info, file, caller: caller)
        default:
            return false
        }
    }

    /// Every file by name with its size; sharers online are those with a session, which this
    /// partition does not know: at most the sharers, and at least the caller if it shares.
    static func acceptsFiles(_ files: [FileSummary], _ group: GroupSpec, caller: String, isComplete: Bool = true) -> Bool {
        guard isComplete ? files.count == group.files.count : files.count < group.files.count else { return false }
        for (line, file) in zip(files, group.files) {
            guard line.name == file.name, line.sizeBytes == file.sizeBytes,
                  Int(line.onlineSharerCount) <= file.sharers.count else { return false }
            if file.sharers.contains(caller), line.onlineSharerCount == 0 { return false }
        }
        return true
    }

    /// The file's metadata and some of its sharers other than the caller (those online), in
    /// user-id order starting after the caller and wrapping around, each with every piece
    /// (sharers here only upload whole files).
    static func acceptsDownload(_ info: DownloadInfo, _ file: SpecFile, caller: String) -> Bool {
        let metadata = info.metadata
        guard metadata.name == file.name, hasContent(file, metadata) else { return false }
        let complete = completePieces(sizeBytes: file.sizeBytes, pieceSizeBytes: file.pieceSizeBytes)
        // A user id's place in the order that starts after the caller: ids after it first.
        func precedes(_ a: String, _ b: String) -> Bool { (a < caller) == (b < caller) ? a < b : b < caller }
        var previous: String?
        for peer in info.peers {
            if let previous, !precedes(previous, peer.userID) { return false }
            previous = peer.userID
            guard peer.userID != caller, file.sharers.contains(peer.userID), peer.pieces == complete else { return false }
        }
        return true
    }

    /// The bitfield of a sharer with every piece: one bit a piece, first piece the high bit.
    static func completePieces(sizeBytes: UInt64, pieceSizeBytes: UInt32) -> [UInt8] {
        guard pieceSizeBytes > 0 else { return [] }
        let pieces = sizeBytes / UInt64(pieceSizeBytes) + (sizeBytes % UInt64(pieceSizeBytes) == 0 ? 0 : 1)
        var bits = [UInt8](repeating: 0, count: Int((pieces + 7) / 8))
        for piece in 0..<Int(pieces) { bits[piece / 8] |= 0x80 >> UInt8(piece % 8) }
        return bits
    }
}
