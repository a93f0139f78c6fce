import Foundation
import Logging
import Networking
import PeerTransfer
import Synchronization
import TrackerClient
import TrackerProtocol
import TrackerStateMachine

/// Limits and timing of the client shell, in one place.
enum ClientLimits {
    /// How often a logged-in client renews its session: a third of tracker-node's default
    /// 10,000 ms lease, so two renewals may be lost before the lease runs out.
    static let keepAliveIntervalMillis = 3_000
    /// Longest command line read from standard input.
    static let commandLineBytesMax = 4_096
    /// How long a command waits for the cluster before it reports it unavailable.
    static let trackerCallDeadlineMillis = 15_000
    /// Largest state file read back (a user's shares).
    static let stateFileBytesMax: UInt64 = 16 << 20
    /// The folder inside the state directory holding the client's key pair (0700; key 0600).
    static let identityFolderName = "identity"
}

/// The logged-in user: its id and session token (kept in memory only, never printed).
struct LoginSession: Sendable {
    var userID: String
    var token: [UInt8]
}

/// The running client: tracker clients, the peer server, the shares, the downloads and the
/// session. Commands run one at a time on the main thread; the keepalive, the peer server and
/// the downloads run on their own threads.
final class ClientApp: Sendable {
    let options: OptionsBox
    let cluster: ClusterConfig
    let listenAddress: PeerAddress
    let registry = ShareRegistry()
    let session = Mutex<LoginSession?>(nil)
    let downloads = Mutex<[Download]>([])
    let storeDirectory: String
    let commandTracker: TrackerClient
    let authTracker: TrackerClient
    let keepAliveGeneration = Atomic<Int>(0)
    let server = Mutex<PeerServer?>(nil)
    /// Standard output and input: answers, the prompt, progress and background events.
    let console: Console
    /// This client's key pair and certificate (in its state directory): presented to trackers,
    /// recorded with its session at login, and presented to peers. Nil with `--insecure`.
    let identity: TLSIdentity?

    init(options: Options) throws {
        self.options = OptionsBox(options)
        console = Console(isJSON: options.isJSON)
        Log.configure(Log.Destination(format: options.logFormat, write: console.writeLog))
        // Every tracker must be pinned, unless the user asked for plaintext; then fingerprints
        // in cluster.conf are ignored.
        let loaded = try ClusterConfig.load(path: options.confPath, requiringFingerprints: !options.isInsecure)
        cluster = options.isInsecure ? loaded.withoutFingerprints : loaded
        listenAddress = try PeerAddress.parse(options.listenAddress)
        storeDirectory = options.stateDirectory ?? "data/client-\(listenAddress.host)-\(listenAddress.port)"
        try LocalStore(directory: storeDirectory).createDirectory()
        identity = options.isInsecure ? nil : try TLSIdentity.loadOrCreate(
            directory: storeDirectory + "/" + ClientLimits.identityFolderName, commonName: "client")
        commandTracker = try Self.makeTracker(cluster, identity: identity)
        // The membership check of a peer must end before the peer server's authentication deadline.
        authTracker = try Self.makeTracker(cluster, identity: identity, deadlineMillis: TransferLimits.peerAuthorizationCallMillis)
    }

    static func makeTracker(_ cluster: ClusterConfig, identity: TLSIdentity?,
                            deadlineMillis: Int = ClientLimits.trackerCallDeadlineMillis) throws -> TrackerClient {
        var timing = TrackerClient.Timing()
        timing.callDeadlineMillis = deadlineMillis
        timing.attemptTimeoutMillis = min(timing.attemptTimeoutMillis, deadlineMillis)
        return try TrackerClient(cluster: cluster, timing: timing, identity: identity)
    }

    /// A TLS context over this client's identity (nil in plaintext).
    func makeTLSContext(side: TLSContext.Side) throws -> TLSContext? {
        try identity.map { try TLSContext(side: side, identity: $0) }
    }

    var store: LocalStore { LocalStore(directory: storeDirectory) }

    /// Starts serving pieces on the listen address.
    func startServer() throws {
        let peerServer = try PeerServer(host: listenAddress.host, port: listenAddress.port, registry: registry,
                                        corruptPieces: options.testCorruptPieces, serveDelayMillis: options.testServeDelayMillis,
                                        tls: try makeTLSContext(side: .server), log: .standard) { [self] credentials in
            authorizePeer(credentials)
        }
        peerServer.start()
        server.withLock { $0 = peerServer }
    }

    /// The peer server's check, when a connection opens and again once its verdict is older than
    /// `TransferLimits.peerAuthorizationFreshMillis`: the user must be an online member of the
    /// group (asked of the tracker with our own session), and over TLS the connection must have
    /// presented the certificate that user's session logged in with, so several users on one
    /// host or behind one NAT are told apart. In plaintext (`--insecure`) only the IP its session
    /// registered is compared, which cannot tell apart users on one host.
    func authorizePeer(_ peer: PeerCredentials) -> PeerVerdict {
        guard let token = session.withLock({ $0?.token }) else { return "this peer is not logged in" }
        let query = ClientQuery.memberSession(groupID: peer.groupID, userID: peer.userID)
        do {
            // With no leader, a tracker's applied state still knows the members and sessions.
            switch try authTracker.call(.query(query), token: token, allowsStale: true) {
            case let .result(.ok(.session(info))), let .possiblyStale(.ok(.session(info)), _):
                return Self.credentialRefusal(peer, session: info, isTLS: identity != nil).map(PeerVerdict.refused) ?? .allowed
            case let .result(.failed(error)), let .possiblyStale(.failed(error), _): return .refused(error.message)
            case let .rejected(reason): return .refused(reason)
            default: return "unexpected answer from the tracker"
            }
        } catch {
            // No tracker answered: a connection being served keeps its verdict (PeerVerdict).
            return .unknown("cannot check membership: \(error)")
        }
    }

    /// Why `peer` does not match the online session the tracker reported for its user (nil: it does).
    static func credentialRefusal(_ peer: PeerCredentials, session: SessionInfo, isTLS: Bool) -> String? {
        guard isTLS else {
            let registered = (try? PeerAddress.parse(session.peerAddress).host) ?? ""
            return registered == peer.remoteHost ? nil : "connection does not come from the user's registered address"
        }
        guard let presented = peer.fingerprint, !session.certificateFingerprint.isEmpty,
              presented.digest == session.certificateFingerprint else {
            return "connection did not present the certificate of \(peer.userID)'s session"
        }
        return nil
    }

    /// Renews the session every `keepAliveIntervalMillis` until logout (a new generation).
    func startKeepAlive(token: [UInt8]) {
        let generation = keepAliveGeneration.add(1, ordering: .sequentiallyConsistent).newValue
        let cluster = self.cluster
        let thread = Thread { [self] in
            guard let tracker = try? Self.makeTracker(cluster, identity: identity) else { return }
            defer { tracker.close() }
            while true {
                for _ in 0..<(ClientLimits.keepAliveIntervalMillis / 100) {
                    usleep(100_000)
                    if keepAliveGeneration.load(ordering: .sequentiallyConsistent) != generation { return }
                }
                let command = ClientCommand.keepAlive
                if case let .result(.failed(error))? = try? tracker.call(.command(command), token: token) {
                    Log.warn("keepalive refused", ["reason": error.message])
                    // The lease ran out (or another login replaced it): stop acting as logged in.
                    if error.code == .notLoggedIn, keepAliveGeneration.load(ordering: .sequentiallyConsistent) == generation {
                        _ = endSession(using: tracker)
                        return
                    }
                }
            }
        }
        thread.name = "keepalive"
        thread.start()
    }

    /// Logs out (if logged in): stops downloads (resumable), serving and the keepalive.
    func endSession(using tracker: TrackerClient) -> Bool {
        guard let current = session.withLock({ s -> LoginSession? in defer { s = nil }; return s }) else { return false }
        keepAliveGeneration.add(1, ordering: .sequentiallyConsistent)
        let running = downloads.withLock { $0.filter(\.isRunning) }
        for download in running { download.cancel(reason: "stopped by logout; run download_file again to resume") }
        registry.removeAll()
        _ = try? tracker.call(.command(.logout), token: current.token)
        return true
    }

    /// Waits for every running download to end.
    func waitForDownloads() {
        while let running = downloads.withLock({ $0.first(where: \.isRunning) }) {
            _ = running.waitUntilFinished(timeoutMillis: 1_000)
        }
    }

    /// Logs out and stops serving: for `quit`, SIGINT, SIGTERM and the end of input.
    func shutdown() {
        if let tracker = try? Self.makeTracker(cluster, identity: identity) {
            _ = endSession(using: tracker)
            tracker.close()
        }
        let running = downloads.withLock { $0.filter(\.isRunning) }
        for download in running {
            download.cancel(reason: "client stopped")
            _ = download.waitUntilFinished(timeoutMillis: 2_000)
        }
        server.withLock { $0?.stop() }
    }
}

/// The parsed options, as a Sendable value.
struct OptionsBox: Sendable {
    let listenAddress: String
    let isJSON: Bool
    let testCorruptPieces: Int
    let testServeDelayMillis: Int
    let inlinePieceHashesMax: Int
    let isInsecure: Bool

    init(_ options: Options) {
        listenAddress = options.listenAddress
        isJSON = options.isJSON
        testCorruptPieces = options.testCorruptPieces
        testServeDelayMillis = options.testServeDelayMillis
        inlinePieceHashesMax = options.inlinePieceHashesMax
        isInsecure = options.isInsecure
    }
}

