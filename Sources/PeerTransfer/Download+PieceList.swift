import Foundation
import Hashing
import Networking
import TrackerClient
import TrackerStateMachine

/// Files whose piece hashes the tracker does not hold (`FileMetadata.pieceListDigest`).
public enum PieceList {
    /// The metadata to upload for a file with these digests: the piece hashes themselves when
    /// there are at most `inlineMax` pieces, else only the SHA-256 of their list.
    public static func uploadMetadata(name: String, digests: FileDigests,
                                      inlineMax: Int = TransferLimits.inlinePieceHashesMax) -> FileMetadata {
        let pieceCount = digests.pieceHashes.count / TransferLimits.sha1Bytes
        let detached = pieceCount > max(0, inlineMax)
        return FileMetadata(name: name, sizeBytes: digests.sizeBytes, pieceSizeBytes: UInt32(TransferLimits.pieceSizeBytes),
                            pieceHashes: detached ? [] : digests.pieceHashes, fileHash: digests.fileHash,
                            pieceListDigest: detached ? SHA256.hash(digests.pieceHashes) : [])
    }

    /// `metadata` with `pieceHashes` filled in when they are the list its digest names; nil
    /// when they are not (wrong length or digest).
    public static func resolved(_ metadata: FileMetadata, with pieceHashes: [UInt8]) -> FileMetadata? {
        guard metadata.hasDetachedPieceList, pieceHashes.count == metadata.pieceCount * TransferLimits.sha1Bytes,
              SHA256.hash(pieceHashes) == metadata.pieceListDigest else { return nil }
        var full = metadata
        full.pieceHashes = pieceHashes
        return full
    }
}

/// Fetching a detached piece list from the sharers before the download starts.
extension Download {
    /// The metadata with its piece hashes: as the tracker sent it, or with the list fetched from
    /// a sharer and checked against its digest. Asks the tracker again for sharers until one
    /// sends the right list, at most `stallTimeoutMillis`.
    func resolvePieceList(_ info: DownloadInfo, tracker: TrackerClient) throws -> FileMetadata {
        guard info.metadata.hasDetachedPieceList else { return info.metadata }
        let startMillis = monotonicNowMillis()
        var current = info
        var attempt = 0
        while millis(from: startMillis, to: monotonicNowMillis()) < UInt64(TransferLimits.stallTimeoutMillis) {
            // Complete sharers first: they hold the list for certain.
            let complete = PieceBitfield.complete(pieceCount: current.metadata.pieceCount)
            let peers = current.peers.filter { $0.userID != environment.userID }
            for peer in peers.filter({ $0.pieces == complete }) + peers.filter({ $0.pieces != complete }) {
                if let reason = cancelReason.withLock({ $0 }) { throw DownloadFailure(reason) }
                attempt += 1
                do {
                    let hashes = try fetchPieceList(from: peer, pieceCount: current.metadata.pieceCount, id: attempt)
                    if let full = PieceList.resolved(current.metadata, with: hashes) {
                        environment.log("piece list fetched user=\(logSafe(peer.userID)) pieces=\(full.pieceCount)")
                        return full
                    }
                    environment.log("piece list refused user=\(logSafe(peer.userID)) reason=\"digest does not match\"")
                } catch {
                    environment.log("piece list not fetched user=\(logSafe(peer.userID)) reason=\(logSafe("\(error)"))")
                }
            }
            _ = wake.wait(timeout: .now() + .milliseconds(TransferLimits.peerRefreshMillis))
            if let fresh = try? fetchInfo(tracker), fresh.metadata == info.metadata { current = fresh }
        }
        throw DownloadFailure("no sharer sent the piece list of \(fileName) that its digest names")
    }

    /// Asks `peer` for every hash of the list, pipelined in chunks.
    private func fetchPieceList(from peer: PeerInfo, pieceCount: Int, id: Int) throws -> [UInt8] {
        var opened: Socket?
        defer { opened?.close() }
        let wire = try dial(peer, id: id) { opened = $0 }
        let chunk = TransferLimits.pieceListChunkHashes
        let firsts = Array(stride(from: 0, to: pieceCount, by: chunk))
        try wire.send(firsts.map { .pieceListRequest(fileName: fileName, first: UInt32($0), count: UInt32(min(chunk, pieceCount - $0))) })
        var hashes: [UInt8] = []
        hashes.reserveCapacity(pieceCount * TransferLimits.sha1Bytes)
        for first in firsts {
            let count = min(chunk, pieceCount - first)
            let answer = try wire.receive()
            if let why = PeerMessageCheck.violation(of: answer, expecting: .pieceList(fileName: fileName, first: first, count: count)) {
                throw PeerViolation(why)
            }
            guard case let .pieceList(_, _, part) = answer else {
                throw DownloadFailure("peer \(peer.userID) does not have the piece list")
            }
            hashes += part
        }
        return hashes
    }
}
