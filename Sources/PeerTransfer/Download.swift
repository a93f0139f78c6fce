import Foundation
import Networking
import Synchronization
import TrackerClient
import TrackerStateMachine

/// What a download needs from the client around it.
public struct DownloadEnvironment: Sendable {
    /// The logged-in user (sent to peers in `open`).
    public var userID: String
    /// The session token, sent to the tracker only.
    public var token: [UInt8]
    /// Makes a tracker client for this download's own calls.
    public var makeTracker: @Sendable () throws -> TrackerClient
    /// Where the download registers what it can serve.
    public var registry: ShareRegistry
    /// A log line (constant message, key=value metadata).
    public var log: @Sendable (String) -> Void
    /// Called once the file is in place, to remember it as a share.
    public var onComplete: @Sendable (_ share: Share, _ metadata: FileMetadata) -> Void
    /// The TLS client context (this client's identity) for connections to sharers, each pinned
    /// to the fingerprint the tracker recorded for the sharer's session; nil: plaintext.
    public var peerTLS: TLSContext?

    /// Makes an environment.
    public init(userID: String, token: [UInt8], makeTracker: @escaping @Sendable () throws -> TrackerClient,
                registry: ShareRegistry, peerTLS: TLSContext? = nil, log: @escaping @Sendable (String) -> Void,
                onComplete: @escaping @Sendable (Share, FileMetadata) -> Void) {
        self.peerTLS = peerTLS
        self.userID = userID
        self.token = token
        self.makeTracker = makeTracker
        self.registry = registry
        self.log = log
        self.onComplete = onComplete
    }
}

/// A download's state as `show_downloads` reports it.
public struct DownloadProgress: Equatable, Sendable {
    /// Running, done, or given up.
    public enum State: Equatable, Sendable {
        /// Fetching pieces.
        case running
        /// Verified and renamed into place.
        case complete
        /// Stopped, with the reason.
        case failed(String)
    }

    /// The group.
    public var groupID: String
    /// The file's name.
    public var fileName: String
    /// Where the finished file goes.
    public var finalPath: String
    /// The state.
    public var state: State
    /// Verified pieces.
    public var doneCount: Int
    /// Pieces of the file (0 until the metadata arrived).
    public var pieceCount: Int
    /// Recent download speed.
    public var bytesPerSecond: Double
    /// Peers connected now.
    public var peerCount: Int
    /// Milliseconds from start to completion (0 while running).
    public var elapsedMillis: UInt64

    /// Percentage done, 0–100.
    public var percent: Double {
        pieceCount == 0 ? (state == .complete ? 100 : 0) : Double(doneCount) * 100 / Double(pieceCount)
    }
}

/// Why a download stopped.
struct DownloadFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One background download: a coordinator thread (tracker queries, announces, the whole-file
/// hash following the verified prefix, the final check and rename) and one thread per peer.
public final class Download: Sendable {
    /// The group.
    public let groupID: String
    /// The file's name in the group.
    public let fileName: String
    /// Where the finished file goes.
    public let finalPath: String
    /// The temporary file in the destination folder; kept on failure so a rerun resumes.
    public let tempPath: String
    let environment: DownloadEnvironment

    struct Live: Sendable {
        var state = DownloadProgress.State.running
        var pieceCount = 0
        var doneCount = 0
        var peerCount = 0
        var startMillis = monotonicNowMillis()
        var finishMillis: UInt64 = 0
        var speedSampleMillis = monotonicNowMillis()
        var speedSampleDone = 0
        var bytesPerSecond = 0.0
        /// When the first verified piece arrived (0 before).
        var firstPieceMillis: UInt64 = 0
        /// Verified bytes accepted from each peer user (the first copies only).
        var bytesByUser: [String: UInt64] = [:]
    }

    struct PeerLinks: Sendable {
        var nextID = 1
        var live: [String: Socket?] = [:]
        var failures: [String: Int] = [:]
    }

    let live = Mutex(Live())
    let scheduler = Mutex<PieceScheduler?>(nil)
    let links = Mutex(PeerLinks())
    let wake = DispatchSemaphore(value: 0)
    let finished = DispatchSemaphore(value: 0)
    let cancelReason = Mutex<String?>(nil)

    /// Makes a download of `fileName` in `groupID` to `finalPath`, through `tempPath`.
    public init(groupID: String, fileName: String, finalPath: String, tempPath: String, environment: DownloadEnvironment) {
        self.groupID = groupID
        self.fileName = fileName
        self.finalPath = finalPath
        self.tempPath = tempPath
        self.environment = environment
    }

    /// Starts the coordinator thread; returns at once.
    public func start() {
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "download"
        thread.start()
    }

    /// Stops the download (its temporary file stays, for a later resume).
    public func cancel(reason: String) {
        cancelReason.withLock { if $0 == nil { $0 = reason } }
        let sockets = links.withLock { $0.live.values.compactMap { $0 } }
        for socket in sockets { try? socket.shutdown(.both) }
        wake.signal()
    }

    /// Waits until the download completed or failed, at most `timeoutMillis`; returns whether it did.
    public func waitUntilFinished(timeoutMillis: Int) -> Bool {
        guard finished.wait(timeout: .now() + .milliseconds(timeoutMillis)) == .success else { return false }
        finished.signal()
        return true
    }

    /// Whether it is still running.
    public var isRunning: Bool { progress.state == .running }

    /// Its state now.
    public var progress: DownloadProgress {
        live.withLock { l in
            DownloadProgress(groupID: groupID, fileName: fileName, finalPath: finalPath, state: l.state,
                             doneCount: l.doneCount, pieceCount: l.pieceCount, bytesPerSecond: l.bytesPerSecond,
                             peerCount: l.peerCount, elapsedMillis: l.finishMillis == 0 ? 0 : millis(from: l.startMillis, to: l.finishMillis))
        }
    }

    var isCancelled: Bool { cancelReason.withLock { $0 != nil } }

    private func run() {
        do {
            try coordinate()
            let (first, sources) = live.withLock { l -> (UInt64, String) in
                l.state = .complete
                l.finishMillis = monotonicNowMillis()
                l.peerCount = 0
                let sources = l.bytesByUser.keys.sorted().map { "\(logSafe($0)):\(l.bytesByUser[$0]!)" }.joined(separator: ",")
                return (l.firstPieceMillis == 0 ? 0 : millis(from: l.startMillis, to: l.firstPieceMillis), sources)
            }
            environment.log("download complete group=\(logSafe(groupID)) file=\(logSafe(fileName)) first_piece_ms=\(first) "
                            + "bytes_from=\(sources.isEmpty ? "none" : sources)")
        } catch {
            let reason = cancelReason.withLock { $0 } ?? "\(error)"
            cancel(reason: reason)
            environment.registry.remove(groupID: groupID, fileName: fileName)
            live.withLock { $0.state = .failed(reason); $0.peerCount = 0 }
            environment.log("download failed group=\(logSafe(groupID)) file=\(logSafe(fileName)) reason=\(logSafe(reason))")
        }
    }
}

/// Milliseconds of the monotonic clock.
public func monotonicNowMillis() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
}

/// Milliseconds from `start` to `end`, zero when `end` is earlier: two readings of the clock
/// taken on different threads may arrive in either order, so they never meet in a bare
/// unsigned subtraction.
public func millis(from start: UInt64, to end: UInt64) -> UInt64 {
    end >= start ? end - start : 0
}
