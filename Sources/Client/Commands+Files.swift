import Foundation
import Hashing
import Logging
import PeerTransfer
import TrackerProtocol
import TrackerStateMachine

/// Login, sharing and downloading.
extension ClientApp {
    func login(userID: String, password: String) throws -> CommandAnswer {
        if let current = session.withLock({ $0?.userID }) { throw CommandError("already logged in as \(current); logout first") }
        let response: ClientResponse
        do {
            response = try commandTracker.call(.login(userID: userID, password: password, peerAddress: options.listenAddress))
        } catch {
            throw CommandError("\(error)")
        }
        switch response {
        case let .loggedIn(token, _):
            session.withLock { $0 = LoginSession(userID: userID, token: token) }
            startKeepAlive(token: token)
            let (resumed, dropped) = resumeShares(userID: userID, token: token)
            var lines = ["logged in as \(userID)"]
            if resumed > 0 || dropped > 0 { lines.append("resumed \(resumed) shares, dropped \(dropped) changed or missing files") }
            return .ok(lines, [("user", .string(userID)), ("resumed_shares", .integer(Int64(resumed))),
                               ("dropped_shares", .integer(Int64(dropped)))])
        case let .result(.failed(error)): throw CommandError(error.message)
        case let .rejected(reason): throw CommandError(reason)
        default: throw CommandError("unexpected answer from the tracker")
        }
    }

    /// Serves again what this user shared, after checking each file is there and unchanged
    /// (same size and time, or else the same whole-file SHA-1).
    private func resumeShares(userID: String, token: [UInt8]) -> (resumed: Int, dropped: Int) {
        var resumed = 0
        var dropped: [StoredShare] = []
        for stored in store.shares(of: userID) {
            let facts = FileFacts.of(stored.path)
            var isUnchanged = facts?.isRegular == true && facts?.sizeBytes == stored.sizeBytes
                && facts?.modifiedNanos == stored.modifiedNanos
            if !isUnchanged, facts?.isRegular == true,
               let digests = try? FileHashing.digests(ofFileAt: stored.path) {
                isUnchanged = Hex.encode(digests.fileHash) == stored.fileHashHex && digests.sizeBytes == stored.sizeBytes
            }
            let pieceHashes = Hex.decode(stored.pieceHashesHex) ?? []
            let stated = FileDigests(sizeBytes: stored.sizeBytes, pieceHashes: pieceHashes, fileHash: Hex.decode(stored.fileHashHex) ?? [])
            let metadata = PieceList.uploadMetadata(name: stored.fileName, digests: stated, inlineMax: options.inlinePieceHashesMax)
            // The whole list is checked, whatever the tracker is sent.
            let full = FileMetadata(name: stored.fileName, sizeBytes: stored.sizeBytes, pieceSizeBytes: metadata.pieceSizeBytes,
                                    pieceHashes: pieceHashes, fileHash: stated.fileHash)
            // The state file is checked like a tracker's answer before its numbers are used.
            if DownloadInfoCheck.violation(of: full, expectedName: nil) != nil { isUnchanged = false }
            let upload = ClientCommand.uploadFile(groupID: stored.groupID, metadata: metadata)
            if isUnchanged, (try? call(.command(upload), token: token)) != nil {
                registry.add(Share(groupID: stored.groupID, fileName: stored.fileName, path: stored.path, sizeBytes: stored.sizeBytes,
                                   pieces: PieceBitfield.complete(pieceCount: metadata.pieceCount), pieceHashes: pieceHashes))
                resumed += 1
            } else {
                let stop = ClientCommand.stopShare(groupID: stored.groupID, fileName: stored.fileName)
                _ = try? call(.command(stop), token: token)
                dropped.append(stored)
            }
        }
        if !dropped.isEmpty { try? store.forget(of: userID) { dropped.contains($0) } }
        return (resumed, dropped.count)
    }

    func uploadFile(path: String, groupID: String) throws -> CommandAnswer {
        guard let facts = FileFacts.of(path), facts.isRegular else { throw CommandError("bad path: \(path) is not a readable regular file") }
        guard facts.sizeBytes <= TransferLimits.fileSizeBytesMax else {
            throw CommandError("bad path: \(path) is larger than \(TransferLimits.fileSizeBytesMax) bytes")
        }
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let name = URL(fileURLWithPath: absolute).lastPathComponent
        let digests = try hashForUpload(path: absolute, fileName: name)
        let metadata = PieceList.uploadMetadata(name: name, digests: digests, inlineMax: options.inlinePieceHashesMax)
        _ = try call(.command(.uploadFile(groupID: groupID, metadata: metadata)), token: try token())
        registry.add(Share(groupID: groupID, fileName: name, path: absolute, sizeBytes: digests.sizeBytes,
                           pieces: PieceBitfield.complete(pieceCount: metadata.pieceCount), pieceHashes: digests.pieceHashes))
        var full = metadata
        full.pieceHashes = digests.pieceHashes
        rememberShare(groupID: groupID, path: absolute, metadata: full)
        let hash = Hex.encode(digests.fileHash)
        return .ok("uploaded \(name) to \(groupID): \(digests.sizeBytes) bytes, \(metadata.pieceCount) pieces, sha1 \(hash)",
                   [("group", .string(groupID)), ("file", .string(name)), ("size", .unsigned(digests.sizeBytes)),
                    ("pieces", .integer(Int64(metadata.pieceCount))), ("sha1", .string(hash))])
    }

    func rememberShare(groupID: String, path: String, metadata: FileMetadata) {
        guard let userID = session.withLock({ $0?.userID }), let facts = FileFacts.of(path) else { return }
        let stored = StoredShare(groupID: groupID, fileName: metadata.name, path: path, sizeBytes: metadata.sizeBytes,
                                 modifiedNanos: facts.modifiedNanos, fileHashHex: Hex.encode(metadata.fileHash),
                                 pieceHashesHex: Hex.encode(metadata.pieceHashes))
        do { try store.remember(stored, of: userID) } catch { Log.error("cannot save share state", ["reason": "\(error)"]) }
    }

    func stopShare(groupID: String, fileName: String) throws -> CommandAnswer {
        _ = try call(.command(.stopShare(groupID: groupID, fileName: fileName)), token: try token())
        registry.remove(groupID: groupID, fileName: fileName)
        if let userID = session.withLock({ $0?.userID }) {
            try? store.forget(of: userID) { $0.groupID == groupID && $0.fileName == fileName }
        }
        return .ok("stopped sharing \(fileName) in \(groupID)")
    }

    /// Where a download goes: into `destination` when it is a folder, else to that path
    /// (whose folder must exist). Never over an existing file.
    private func destinationPaths(fileName: String, destination: String) throws -> (final: String, temp: String) {
        guard !fileName.contains("/"), fileName != ".", fileName != ".." else { throw CommandError("bad file name: \(fileName)") }
        let finalPath: String
        if FileFacts.of(destination)?.isDirectory == true {
            finalPath = URL(fileURLWithPath: destination).appendingPathComponent(fileName).standardizedFileURL.path
        } else {
            finalPath = URL(fileURLWithPath: destination).standardizedFileURL.path
            let parent = URL(fileURLWithPath: finalPath).deletingLastPathComponent().path
            guard FileFacts.of(parent)?.isDirectory == true else { throw CommandError("bad path: folder \(parent) does not exist") }
        }
        guard FileFacts.of(finalPath) == nil else { throw CommandError("file already exists at the destination: \(finalPath)") }
        let url = URL(fileURLWithPath: finalPath)
        let temp = url.deletingLastPathComponent().appendingPathComponent("." + url.lastPathComponent + ".part").path
        return (finalPath, temp)
    }

    func downloadFile(groupID: String, fileName: String, destination: String) throws -> CommandAnswer {
        let paths = try destinationPaths(fileName: fileName, destination: destination)
        guard let current = session.withLock({ $0 }) else { throw CommandError("not logged in") }
        let query = ClientQuery.downloadInfo(groupID: groupID, fileName: fileName)
        let answer = try callNotingStale(.query(query), token: current.token, allowsStale: true)
        guard case let .download(info) = answer.reply else { throw CommandError("unexpected answer from the tracker") }
        do {
            _ = try DownloadInfoCheck.validate(info, fileName: fileName)
        } catch {
            throw CommandError(error.description)
        }
        let busy = downloads.withLock { all in
            all.contains { $0.isRunning && ($0.finalPath == paths.final || ($0.groupID == groupID && $0.fileName == fileName)) }
        }
        if busy { throw CommandError("already downloading \(fileName) from \(groupID)") }
        let (cluster, identity) = (self.cluster, self.identity)
        let environment = DownloadEnvironment(
            userID: current.userID, token: current.token, makeTracker: { try ClientApp.makeTracker(cluster, identity: identity) },
            registry: registry, peerTLS: try makeTLSContext(side: .client), log: .standard,
            onComplete: { [self] share, metadata in rememberShare(groupID: share.groupID, path: share.path, metadata: metadata) })
        let download = Download(groupID: groupID, fileName: fileName, finalPath: paths.final, tempPath: paths.temp, environment: environment)
        let admitted = downloads.withLock { all -> Bool in
            guard all.count(where: { $0.isRunning }) < TransferLimits.downloadsMax else { return false }
            all.removeAll { !$0.isRunning && $0.groupID == groupID && $0.fileName == fileName }
            all.append(download)
            return true
        }
        guard admitted else { throw CommandError("too many downloads at once (at most \(TransferLimits.downloadsMax))") }
        download.start()
        reportWhenFinished(download)
        return CommandAnswer.ok("downloading \(fileName) from \(groupID) to \(paths.final)",
                                [("group", .string(groupID)), ("file", .string(fileName)), ("destination", .string(paths.final))])
            .markedStale(answer.stale)
    }

    func showDownloads() -> CommandAnswer {
        let all = downloads.withLock { $0 }.map(\.progress)
        var lines: [String] = []
        var json: [JSONValue] = []
        for p in all {
            var fields: [(String, JSONValue)] = [("group", .string(p.groupID)), ("file", .string(p.fileName)),
                                                 ("destination", .string(p.finalPath))]
            switch p.state {
            case .running:
                let mbps = p.bytesPerSecond / 1_000_000
                // On a terminal, a bar with the time left.
                lines.append(console.isTerminal ? ProgressText.downloadLine(p)
                    : String(format: "[D] [%@] %@ %.1f%% %.1f MB/s %d peers", p.groupID, p.fileName, p.percent, mbps, p.peerCount))
                fields += [("state", .string("downloading")), ("percent", .number(p.percent)),
                           ("bytes_per_second", .integer(clamping: p.bytesPerSecond)), ("peers", .integer(Int64(p.peerCount)))]
            case .complete:
                lines.append("[C] [\(p.groupID)] \(p.fileName)")
                fields += [("state", .string("complete")), ("elapsed_ms", .unsigned(p.elapsedMillis))]
            case let .failed(reason):
                lines.append("[F] [\(p.groupID)] \(p.fileName) failed: \(reason)")
                fields += [("state", .string("failed")), ("reason", .string(reason))]
            }
            json.append(.object(fields))
        }
        // Bytes this client's peer server sent, per file and in all (what a sharer uploaded).
        let served = server.withLock { $0?.servedBytesByFile } ?? []
        let servedJSON = served.map { JSONValue.object([("group", .string($0.groupID)), ("file", .string($0.fileName)),
                                                        ("bytes", .unsigned($0.bytes))]) }
        let total = served.reduce(UInt64(0)) { $0 &+ $1.bytes }
        return .ok(lines.isEmpty ? ["no downloads"] : lines,
                   [("downloads", .array(json)), ("served", .array(servedJSON)), ("served_bytes", .unsigned(total))])
    }
}
