/// Every bound of the piece protocol, the peer server and the downloader, in one place.
public enum TransferLimits {
    /// The piece size every file uses (equal to the tracker's `Limits.pieceSizeBytes`).
    public static let pieceSizeBytes = 524_288
    /// Largest piece-protocol frame payload: a piece plus its header, with room to spare.
    public static let frameBytesMax = pieceSizeBytes + 4_096
    /// Largest frame payload that is not a piece (open, request, bitfield, reject).
    public static let controlFrameBytesMax = 16_384
    /// Longest user id, group id or file name on the piece protocol.
    public static let nameBytesMax = 255
    /// Longest rejection reason.
    public static let reasonBytesMax = 200
    /// Incoming peer connections served at once; more are refused with a reason.
    public static let uploadsMax = 32
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
    /// How often a download asks the tracker for new peers.
    public static let peerRefreshMillis = 1_000
    /// How often a download asks a connected peer for its bitfield while it lacks pieces there.
    public static let bitfieldRefreshMillis = 250
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
