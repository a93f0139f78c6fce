import Foundation
import Synchronization
import SystemClock
import TrackerClient
import TrackerProtocol
import TrackerStateMachine

/// The coordinator: metadata, resume, peers, announces, the whole-file hash, the rename.
extension Download {
    struct Context: Sendable {
        let metadata: FileMetadata
        let file: PieceFile
        let writer: PieceWriter
    }

    func coordinate() throws {
        let tracker = try environment.makeTracker()
        defer { tracker.close() }
        var info = try fetchInfo(tracker)
        // The tracker's form stays in `info` (refreshes are compared with it); the download
        // works with the full piece list.
        let metadata = try resolvePieceList(info, tracker: tracker)
        let (file, isResumed) = try PartFile.open(tempPath, sizeBytes: metadata.sizeBytes)
        let have = isResumed
            ? FileHashing.verifiedPieces(in: file, pieceHashes: metadata.pieceHashes, sizeBytes: metadata.sizeBytes)
            : Array(repeating: false, count: metadata.pieceCount)
        try file.truncate(to: metadata.sizeBytes)
        let initial = PieceScheduler(pieceCount: metadata.pieceCount, have: have)
        scheduler.withLock { $0 = initial }
        live.withLock { $0.pieceCount = metadata.pieceCount; $0.doneCount = initial.doneCount; $0.speedSampleDone = initial.doneCount }
        environment.registry.add(Share(groupID: groupID, fileName: fileName, path: tempPath, sizeBytes: metadata.sizeBytes,
                                       pieces: initial.bitfield(), file: file, pieceHashes: metadata.pieceHashes))
        if initial.doneCount > 0 {
            environment.log.info("download resumed", ["group": groupID, "file": fileName, "pieces": "\(initial.doneCount)"])
        }
        let writer = PieceWriter(file: file, sizeBytes: metadata.sizeBytes, written: initial.done) { [self] index in
            if index >= 0 { environment.registry.markPiece(groupID: groupID, fileName: fileName, index: index) }
            wake.signal()
        }
        writer.start()
        defer { writer.stop() }
        let context = Context(metadata: metadata, file: file, writer: writer)
        let startMillis = SystemClock.monotonicMillis()
        let digest = try followUntilComplete(context, tracker: tracker, info: &info)
        let hashedMillis = SystemClock.monotonicMillis()
        try finish(context, digest: digest, tracker: tracker)
        environment.log.info("download timing", ["group": groupID, "file": fileName,
                                                 "fetch_and_hash_ms": "\(elapsed(from: startMillis, to: hashedMillis))",
                                                 "check_sync_rename_ms": "\(elapsed(from: hashedMillis, to: SystemClock.monotonicMillis()))"])
    }

    private func followUntilComplete(_ context: Context, tracker: TrackerClient, info: inout DownloadInfo) throws -> [UInt8] {
        var announcedCount = 0
        var nextAnnounceMillis: UInt64 = 0
        var nextRefreshMillis: UInt64 = 0
        var refreshMillis = UInt64(TransferLimits.peerRefreshMinMillis)
        var lastProgressMillis = SystemClock.monotonicMillis()
        var lastDone = -1
        // No leader answered the last peer-list query: announces (writes) would only wait for a
        // quorum, so they wait for a leader's answer instead; the pieces keep coming meanwhile.
        var isLeaderless = false
        while true {
            if let reason = cancelReason.withLock({ $0 }) { throw DownloadFailure(reason) }
            if let failure = context.writer.failure { throw DownloadFailure(failure) }
            if let digest = context.writer.digest { return digest }
            let (done, peers) = scheduler.withLock { ($0!.doneCount, $0!.peerCount) }
            updateProgress(done: done, peers: peers)
            let now = SystemClock.monotonicMillis()
            if done != lastDone { lastDone = done; lastProgressMillis = now }
            // Announce what is written (what the peer server can serve), not merely accepted.
            let servable = environment.registry.share(groupID: groupID, fileName: fileName)?.pieces ?? []
            let servableCount = servable.reduce(0) { $0 + $1.nonzeroBitCount }
            if servableCount > announcedCount && !isLeaderless && (announcedCount == 0 || now >= nextAnnounceMillis) {
                announce(tracker, pieces: servable)
                announcedCount = servableCount
                nextAnnounceMillis = now + UInt64(TransferLimits.announceIntervalMillis)
            }
            if now >= nextRefreshMillis && done < context.metadata.pieceCount {
                // Only the peer list may change: an answer with other metadata is not used.
                // With every tracker down this fails after the call's deadline: the sharers
                // already known keep serving, and the tracker is asked again next time.
                let fresh = try? fetchInfoNotingStale(tracker)
                isLeaderless = fresh?.isStale ?? true
                if let fresh, fresh.info.metadata == info.metadata { info = fresh.info }
                // Soon again while new peers (other downloaders, as they announce) keep appearing.
                let started = connectToNewPeers(info.peers, context: context)
                refreshMillis = Self.nextPeerRefreshMillis(after: refreshMillis, startedPeers: started)
                nextRefreshMillis = now + refreshMillis
            }
            if elapsed(from: lastProgressMillis, to: now) > UInt64(TransferLimits.stallTimeoutMillis) {
                throw DownloadFailure(peers == 0 ? "no peer shares the missing pieces" : "no progress from peers")
            }
            _ = wake.wait(timeout: .now() + .milliseconds(100))
        }
    }

    private func updateProgress(done: Int, peers: Int) {
        live.withLock { l in
            l.doneCount = done
            l.peerCount = peers
            let now = SystemClock.monotonicMillis()
            let sampleMillis = elapsed(from: l.speedSampleMillis, to: now)
            if sampleMillis >= 1_000 {
                let bytes = Double(done - l.speedSampleDone) * Double(TransferLimits.pieceSizeBytes)
                l.bytesPerSecond = bytes * 1_000 / Double(sampleMillis)
                l.speedSampleMillis = now
                l.speedSampleDone = done
            }
        }
    }

    /// The wait before the next peer-list query: the shortest after one that brought a new
    /// peer (downloaders starting together appear one by one as they announce), else twice the
    /// last, up to `peerRefreshMillis`.
    public static func nextPeerRefreshMillis(after last: UInt64, startedPeers: Int) -> UInt64 {
        let shortest = UInt64(TransferLimits.peerRefreshMinMillis)
        return startedPeers > 0 ? shortest : min(max(shortest, last) * 2, UInt64(TransferLimits.peerRefreshMillis))
    }

    func fetchInfo(_ tracker: TrackerClient) throws -> DownloadInfo {
        try fetchInfoNotingStale(tracker).info
    }

    /// The file's metadata and sharers, and whether a tracker without a leader gave them.
    func fetchInfoNotingStale(_ tracker: TrackerClient) throws -> (info: DownloadInfo, isStale: Bool) {
        let query = ClientQuery.downloadInfo(groupID: groupID, fileName: fileName)
        // Possibly stale when no leader is found: the metadata never changes once uploaded,
        // and sharers that left are simply not reached.
        let response = try tracker.call(.query(query), token: environment.token, allowsStale: true)
        switch response {
        case let .result(.ok(.download(info))), let .possiblyStale(.ok(.download(info)), _):
            let isStale = if case .possiblyStale = response { true } else { false }
            do {
                return (try DownloadInfoCheck.validate(info, fileName: fileName), isStale)
            } catch {
                throw DownloadFailure(error.description)
            }
        case let .result(.failed(error)), let .possiblyStale(.failed(error), _): throw DownloadFailure(error.message)
        case let .rejected(reason): throw DownloadFailure(reason)
        default: throw DownloadFailure("unexpected answer from the tracker")
        }
    }

    private func announce(_ tracker: TrackerClient, pieces: [UInt8]) {
        let command = ClientCommand.announcePieces(groupID: groupID, fileName: fileName, pieces: pieces)
        if case let .result(.failed(error))? = try? tracker.call(.command(command), token: environment.token) {
            environment.log.warn("announce refused", ["group": groupID, "file": fileName, "reason": error.message])
        }
    }

    /// Starts a thread for each listed peer not connected yet; returns how many.
    @discardableResult
    private func connectToNewPeers(_ peers: [PeerInfo], context: Context) -> Int {
        let banned = scheduler.withLock { $0!.bannedPeers }
        var started = 0
        for peer in peers where peer.userID != environment.userID && !banned.contains(peer.userID) {
            let id: Int? = links.withLock { l in
                guard l.live[peer.peerAddress] == nil, l.live.count < TransferLimits.peersPerDownloadMax,
                      l.failures[peer.peerAddress, default: 0] < TransferLimits.peerConnectFailuresMax,
                      l.failures[peer.peerAddress] != nil || l.failures.count < TransferLimits.peerAddressesTrackedMax else { return nil }
                l.live[peer.peerAddress] = .some(nil)
                defer { l.nextID += 1 }
                return l.nextID
            }
            guard let id else { continue }
            let thread = Thread { [self] in runPeer(id: id, peer: peer, context: context) }
            thread.name = "download-peer"
            thread.start()
            started += 1
        }
        return started
    }

    private func finish(_ context: Context, digest: [UInt8], tracker: TrackerClient) throws {
        guard digest == context.metadata.fileHash else {
            if let facts = try? context.file.facts() { PartFile.removeName(tempPath, ifItNames: facts) }
            throw DownloadFailure("whole-file SHA-1 does not match; temporary file removed")
        }
        try context.file.sync()
        try PartFile.linkIntoPlace(context.file, temporaryPath: tempPath, finalPath: finalPath)
        let share = Share(groupID: groupID, fileName: fileName, path: finalPath, sizeBytes: context.metadata.sizeBytes,
                          pieces: PieceBitfield.complete(pieceCount: context.metadata.pieceCount),
                          pieceHashes: context.metadata.pieceHashes)
        environment.registry.add(share)
        syncDirectory(of: finalPath)
        // Remembered first: without a quorum the announce waits out its call deadline.
        environment.onComplete(share, context.metadata)
        announce(tracker, pieces: share.pieces)
    }
}

/// Flushes a directory entry (after a rename or link) to disk; best effort.
func syncDirectory(of path: String) {
    let directory = (path as NSString).deletingLastPathComponent
    let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { return }
    _ = fsync(fd)
    close(fd)
}
