/// Every limit the Networking module enforces, in one place (TIGER_STYLE: a named bound on
/// everything that grows). Units come last in each name.
public enum NetworkingLimits {
    /// Largest frame payload accepted or sent by default: 64 MiB. A piece is 512 KiB, and a Raft
    /// append or snapshot chunk must stay well under this.
    public static let frameBytesMax = 64 * 1024 * 1024
    /// Most bytes asked of the kernel per read by a frame reader; many small frames parse per read.
    public static let readChunkBytes = 64 * 1024
    /// A frame reader's first receive buffer: it doubles only while receives fill it, so an idle
    /// or handshaking connection holds this much, not `readChunkBytes`.
    public static let readChunkBytesInitial = 2 * 1024
    /// Largest frame accepted while handshaking, so that garbage bytes cannot announce a huge frame.
    public static let handshakeFrameBytesMax = 256
    /// How long a whole handshake may take before it fails (a deadline, not a per-read timeout).
    public static let handshakeTimeoutMillis = 5_000
    /// Bytes of random nonce in each hello.
    public static let nonceBytes = 16
    /// Bytes of an authentication proof (an HMAC-SHA256 output).
    public static let proofBytes = 32
    /// Longest reason text carried by a handshake rejection frame.
    public static let rejectionReasonBytesMax = 200
    /// Most trackers a cluster.conf may list.
    public static let clusterTrackersMax = 64
    /// Largest cluster.conf file `ClusterConfig.load` will read.
    public static let clusterConfBytesMax = 1024 * 1024
    /// Longest host name accepted (the DNS limit).
    public static let hostBytesMax = 253
    /// Default `listen` backlog.
    public static let listenBacklog: Int32 = 128
    /// Most ready descriptors one `EventPoll.wait` reports (the rest are reported by the next).
    public static let pollEventsPerWaitMax = 1_024
    /// Most consecutive `EINTR` retries of one system call before giving up.
    public static let interruptRetriesMax = 1_000

    /// Traps unless the limits are consistent with each other and with the wire format; called
    /// by tests and cheap enough for executables to call at start.
    public static func validate() {
        precondition(frameBytesMax > 0 && UInt64(frameBytesMax) <= UInt64(UInt32.max), "frame limit must fit a u32")
        precondition(readChunkBytes > 0 && readChunkBytes <= frameBytesMax, "read chunk must be positive")
        precondition(readChunkBytesInitial > 0 && readChunkBytesInitial <= readChunkBytes, "first read chunk within the chunk limit")
        precondition(handshakeFrameBytesMax >= Hello.encodedByteCount, "a hello must fit the handshake limit")
        precondition(handshakeFrameBytesMax >= rejectionReasonBytesMax, "a rejection must fit the handshake limit")
        precondition(handshakeFrameBytesMax >= proofBytes, "a proof must fit the handshake limit")
        precondition(clusterTrackersMax >= 1 && clusterConfBytesMax > 0, "cluster limits must be positive")
        precondition(interruptRetriesMax > 0 && handshakeTimeoutMillis > 0, "retry and timeout limits must be positive")
    }
}
