/// Every bound of the piece protocol, the peer server and the downloader, in one place.
public enum TransferLimits {
    /// The piece size every file uses (equal to the tracker's `Limits.pieceSizeBytes`).
    public static let pieceSizeBytes = 524_288
    /// Largest piece-protocol frame payload: a piece plus its header, with room to spare.
    public static let frameBytesMax = pieceSizeBytes + 4_096
    /// Largest frame payload that is not a piece or a piece list (open, request, bitfield,
    /// have, reject): a bitfield of `piecesPerFileMax` pieces plus its file name fits.
    public static let controlFrameBytesMax = 20_480
    /// Bytes of a SHA-1 digest (a piece hash).
    public static let sha1Bytes = 20
    /// Piece indices in one `have` message.
    public static let haveIndicesMax = 1_024
    /// Piece hashes in one `pieceList` message (and asked for by one `pieceListRequest`).
    public static let pieceListChunkHashes = 16_384
    /// Largest `pieceList` frame payload: a chunk of hashes, its file name and its numbers.
    public static let pieceListFrameBytesMax = pieceListChunkHashes * sha1Bytes + 1_024
    /// Longest user id, group id or file name on the piece protocol.
    public static let nameBytesMax = 255
    /// Longest rejection reason.
    public static let reasonBytesMax = 200
    /// Authenticated peer connections served at once (a slot is taken only once the peer's
    /// `open` passed the membership check); more are refused with a reason.
    public static let uploadsMax = 32
    /// Authenticated connections one user may hold at once on this server.
    public static let uploadsPerUserMax = 8
    /// Connections still in the handshake, waiting for `open` or for the membership check.
    /// When full, the oldest of the busiest host is closed for the newcomer.
    public static let unauthenticatedMax = 16
    /// Unauthenticated connections from one IP address; the newcomer closes that host's oldest.
    public static let unauthenticatedPerHostMax = 8
    /// Connections already told to close whose thread has not ended yet; beyond this, new
    /// connections are closed at once (bounds the peer server's threads).
    public static let closingConnectionsMax = 64
    /// How long a connection may take from accept to passing the membership check.
    public static let authenticationDeadlineMillis = 3_000
    /// How long the membership check may wait for the tracker (below the deadline).
    public static let peerAuthorizationCallMillis = 2_500
    /// How long a connection's membership verdict is trusted: the first piece request after it
    /// asks the tracker again, so a member who left (or logged out) is refused within it.
    public static let peerAuthorizationFreshMillis = 1_000
    /// How long a served connection keeps its verdict when no tracker could be asked again.
    public static let peerAuthorizationUnknownRetryMillis = 10_000
    /// How often the peer server's accept thread wakes to close connections past the deadline.
    public static let acceptPollMillis = 100
    /// How long a served connection may stay idle between requests.
    public static let servingIdleTimeoutMillis = 60_000
    /// How long one send to a peer may make no progress before the connection ends.
    public static let peerSendTimeoutMillis = 10_000
    /// The peer server logs each cause of refusal at most once per this interval.
    public static let refusalLogIntervalMillis = 10_000
    /// Pieces of the largest file (equal to the tracker's `Limits.piecesPerFileMax`): 64 GiB.
    public static let piecesPerFileMax = 131_072
    /// Piece hashes a tracker's answer carries itself; a file with more travels with only the
    /// SHA-256 of its hash list, and downloaders fetch the list from peers (`pieceListRequest`).
    /// Equal to the tracker's `Limits.pieceHashesInlineBytesMax / 20`: 32,768 pieces, 16 GiB.
    public static let inlinePieceHashesMax = 32_768
    /// Bytes of the SHA-256 of a detached hash list.
    public static let pieceListDigestBytes = 32
    /// The largest file size accepted from a tracker: `piecesPerFileMax` full pieces.
    public static let fileSizeBytesMax = UInt64(piecesPerFileMax) * UInt64(pieceSizeBytes)
    /// Peers accepted in one tracker answer (equal to the tracker's `Limits.sharersPerFileMax`).
    public static let peersPerAnswerMax = 1_000
    /// Peer addresses a download remembers failures of; others are not tried.
    public static let peerAddressesTrackedMax = 1_024
    /// Characters of one remote value kept in a log line.
    public static let logTextCharactersMax = 256
    /// Longest test-only serve delay (`--test-serve-delay-ms`).
    public static let testServeDelayMillisMax = 60_000
    /// Requests a downloader keeps in flight on one peer connection.
    public static let requestsInFlightPerPeer = 6
    /// In-flight requests allowed on a peer much slower than the best one.
    public static let requestsInFlightSlowPeer = 1
    /// A peer is "slow" when its rate is below the best peer's divided by this.
    public static let slowPeerRatio = 4.0
    /// How long a peer is connected before its rate is compared with the others'.
    public static let slowPeerWarmupMillis = 1_000
    /// Peers a download connects to at once.
    public static let peersPerDownloadMax = 16
    /// Bad pieces after which a peer is dropped from a download.
    public static let badPiecesMax = 3
    /// Times one piece may be requested at once in the endgame.
    public static let endgameDuplicatesMax = 2
    /// Pieces, from the lowest missing one, among which ties of rarity are broken at random:
    /// keeps the download near-sequential so the whole-file hash follows it.
    public static let rarestWindowPieces = 64
    /// How long a peer connection waits for an answer before it gives up on the peer.
    public static let peerReceiveTimeoutMillis = 10_000
    /// How long a connect to a peer may take.
    public static let peerConnectTimeoutMillis = 2_000
    /// How often a download asks the tracker for new peers, at most: the interval starts at
    /// `peerRefreshMinMillis` and doubles after each answer that brought no new peer, so
    /// downloaders that start together find each other as partial sharers within a few hundred
    /// milliseconds while a long download asks about once a second.
    public static let peerRefreshMillis = 1_000
    /// The shortest interval between two peer-list queries (after a new peer appeared).
    public static let peerRefreshMinMillis = 50
    /// How long a connection thread with nothing to send or receive waits on its socket before
    /// it looks again for pieces to announce (`have`) or to request.
    public static let idlePollMillis = 5
    /// The peer server super-seeds a file it holds complete while at most this many
    /// connections download it: each piece is offered (by `have`) to one downloader until every
    /// piece went out once; then a downloader is told only what no other downloader holds.
    public static let superSeedDownloadersMax = 16
    /// Pieces a super-seeding server keeps offered to each downloader (requested or not yet).
    public static let superSeedOfferPieces = 12
    /// After every piece went out once, a super-seeding server tells a downloader everything
    /// once it reported no new piece for this long (it cannot reach the peers that hold them).
    public static let superSeedStarvedMillis = 1_000
    /// How often a downloading sharer announces its pieces to the tracker.
    public static let announceIntervalMillis = 2_000
    /// Failed connection attempts to one peer before a download stops retrying it.
    public static let peerConnectFailuresMax = 5
    /// A download with no peer and no progress for this long fails.
    public static let stallTimeoutMillis = 60_000
    /// Bytes read per batch while hashing a file for upload (a multiple of the piece size).
    public static let hashBatchBytes = 8 * pieceSizeBytes
    /// Verified pieces waiting for a download's writer thread; peer threads wait beyond this.
    public static let writerQueuePieces = 32
    /// Written pieces kept in memory for the whole-file hash when they are ahead of its prefix
    /// by less than this (others are read back from the file).
    public static let writerHeldPieces = 128
    /// Downloads running at once in one client.
    public static let downloadsMax = 64
}
