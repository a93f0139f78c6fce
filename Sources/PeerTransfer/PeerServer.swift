import Foundation
import Logging
import Networking
import Synchronization
import SystemClock

/// Who asks to download: the user its `open` names, where it connects from, and (over TLS) the
/// fingerprint of the certificate it proved it holds.
public struct PeerCredentials: Equatable, Sendable {
    /// The user the `open` names.
    public var userID: String
    /// The group the connection is for.
    public var groupID: String
    /// The remote IP.
    public var remoteHost: String
    /// The presented certificate's fingerprint; nil in plaintext (`--insecure` clusters).
    public var fingerprint: CertificateFingerprint?

    /// Makes credentials.
    public init(userID: String, groupID: String, remoteHost: String, fingerprint: CertificateFingerprint?) {
        self.userID = userID
        self.groupID = groupID
        self.remoteHost = remoteHost
        self.fingerprint = fingerprint
    }
}

/// Decides whether a connection may download from its group (`nil` or `.allowed` to accept).
/// The client asks the tracker when a connection opens and again, while it is served, once its
/// verdict is older than `TransferLimits.peerAuthorizationFreshMillis` (see `PeerVerdict` for
/// a tracker that cannot be asked).
public typealias PeerAuthorizer = @Sendable (_ credentials: PeerCredentials) -> PeerVerdict

/// The handshake callbacks over libcrypto, shared by both ends of piece connections.
public enum PeerHandshake {
    /// HMAC-SHA256, secure random nonces, constant-time comparison (no key is used between peers).
    public static let authenticator = HandshakeAuthenticator.libcrypto
}

/// A shared file: its group and name.
struct ShareKey: Hashable, Sendable {
    var groupID: String
    var fileName: String
}

/// Serves pieces of the files in a `ShareRegistry` on `IP:PORT`: one thread accepts and closes
/// connections past their deadline, one thread per connection answers. `PeerAdmission` decides
/// who gets a thread and an upload slot: a slot is taken only once the connection's `open`
/// passed `authorize`; before that a connection has `authenticationDeadlineMillis` and shares a
/// small pool bounded per host. Requests name (group, file, index), never a path; a peer that
/// sends garbage or vanishes only ends its own connection. Refusals are logged once per cause
/// and interval, with remote text escaped and never a file's bytes.
///
/// A connection names its file with `bitfieldRequest` before it requests pieces of it; from
/// then on the server pushes `have` for each piece it gains. A file held complete is
/// super-seeded (`SuperSeeding`) while few connections download it, and each user gets one
/// piece send at a time (`UserTurns`), however many connections it opens.
public final class PeerServer: Sendable {
    struct State: ~Copyable {
        var admission: PeerAdmission
        var sockets: [Int: Socket] = [:]
        var refusals = RefusalLog()
        var nextID = 1
    }

    private let listener: Socket
    let registry: ShareRegistry
    let authorize: PeerAuthorizer
    let log: Logger
    let state: Mutex<State>
    let isStopped = Atomic<Bool>(false)
    /// Test-only: how many more served pieces get a flipped byte (see `--test-corrupt-pieces`).
    let corruptPiecesLeft: Atomic<Int>
    let servedPieces = Atomic<Int>(0)
    /// Bytes of pieces sent, per shared file.
    let servedBytes = Mutex<[ShareKey: UInt64]>([:])
    /// Super-seeding of each complete share some connection downloads (see `SuperSeeding`).
    let seeding = Mutex<[ShareKey: SuperSeeding]>([:])
    /// One piece send at a time per user (see `UserTurns`).
    let turns = UserTurns()
    /// Test-only: a pause before each served piece, to make a sharer slow (see `--test-serve-delay-ms`).
    let serveDelayMillis: Int
    /// The TLS server context (this client's identity); nil serves plaintext.
    let tls: TLSContext?

    /// Listens on `host:port` (port 0 picks one; see `port`). With `tls` every connection runs a
    /// TLS 1.3 handshake first and must present a certificate, whose fingerprint `authorize` sees.
    public init(host: String, port: UInt16, registry: ShareRegistry, corruptPieces: Int = 0, serveDelayMillis: Int = 0,
                bounds: PeerAdmission.Bounds = .standard, tls: TLSContext? = nil,
                log: Logger = .none, authorize: @escaping PeerAuthorizer) throws {
        self.tls = tls
        listener = try Socket.listen(host: host, port: port)
        try listener.setReceiveTimeout(millis: TransferLimits.acceptPollMillis)
        self.registry = registry
        self.authorize = authorize
        self.log = log
        state = Mutex(State(admission: PeerAdmission(bounds: bounds)))
        corruptPiecesLeft = Atomic(corruptPieces)
        self.serveDelayMillis = min(max(0, serveDelayMillis), TransferLimits.testServeDelayMillisMax)
    }

    /// The port it listens on.
    public var port: UInt16 { (try? listener.localPort) ?? 0 }

    /// Pieces sent so far.
    public var servedPieceCount: Int { servedPieces.load(ordering: .relaxed) }

    /// Bytes of pieces sent so far, per file (sorted by group, then file).
    public var servedBytesByFile: [(groupID: String, fileName: String, bytes: UInt64)] {
        servedBytes.withLock { all in all.map { ($0.key.groupID, $0.key.fileName, $0.value) } }
            .sorted { ($0.groupID, $0.fileName) < ($1.groupID, $1.fileName) }
    }

    /// Connections now holding an upload slot, and those not yet authenticated.
    public var connectionCounts: (serving: Int, unauthenticated: Int) {
        state.withLock { ($0.admission.servingCount, $0.admission.unauthenticatedCount) }
    }

    /// Starts the accept thread.
    public func start() {
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "peer-server-accept"
        thread.start()
    }

    /// Stops accepting and ends every connection.
    public func stop() {
        isStopped.store(true, ordering: .sequentiallyConsistent)
        try? listener.shutdown(.both)
        // Under the lock: a connection's thread closes its socket only after leaving the map.
        state.withLock { s in for id in s.sockets.keys.sorted() { try? s.sockets[id]?.shutdown(.both) } }
    }

    private func acceptLoop() {
        while !isStopped.load(ordering: .sequentiallyConsistent) {
            var accepted: Socket?
            do {
                accepted = try listener.accept()
            } catch SocketError.timedOut {
                accepted = nil
            } catch {
                if isStopped.load(ordering: .sequentiallyConsistent) { break }
                usleep(10_000)
            }
            closeExpired()
            if let socket = accepted { admit(socket) }
        }
    }

    /// Shuts down every unauthenticated connection past the deadline (its thread then ends).
    private func closeExpired() {
        let now = SystemClock.monotonicMillis()
        let lines = state.withLock { s -> [LogRecord] in
            let expired = s.admission.expire(nowMillis: now)
            for id in expired { try? s.sockets[id]?.shutdown(.both) }
            return expired.compactMap { _ in Self.refusalLine(&s, .deadline, host: nil, detail: [], nowMillis: now) }
        }
        for line in lines { log.emit(line) }
    }

    private func admit(_ socket: Socket) {
        let host = (try? socket.remoteAddress.host) ?? "unknown"
        let now = SystemClock.monotonicMillis()
        var line: LogRecord?
        let id = state.withLock { s -> Int? in
            let id = s.nextID
            s.nextID += 1
            switch s.admission.arrive(id: id, host: host, nowMillis: now) {
            case let .refused(cause):
                line = Self.refusalLine(&s, cause, host: host, detail: [], nowMillis: now)
                return nil
            case let .admitted(evicted, cause):
                if let evicted, let cause {
                    try? s.sockets[evicted]?.shutdown(.both)
                    line = Self.refusalLine(&s, cause, host: host, detail: [], nowMillis: now)
                }
                s.sockets[id] = socket
                return id
            }
        }
        if let line { log.emit(line) }
        guard let id else { return socket.close() }
        let thread = Thread { [self] in
            serve(socket, id: id, host: host)
            state.withLock { s in
                s.admission.leave(id)
                s.sockets[id] = nil
            }
            socket.close()
        }
        thread.name = "peer-server-connection"
        thread.start()
    }

    /// Logs a refusal for `cause`, at most once per cause and interval.
    func refuse(_ cause: RefusalCause, host: String, detail: [(key: String, value: String)] = []) {
        let now = SystemClock.monotonicMillis()
        if let line = state.withLock({ Self.refusalLine(&$0, cause, host: host, detail: detail, nowMillis: now) }) { log.emit(line) }
    }

    /// The log record for a refusal, or nil when this cause was logged within the interval.
    /// `detail` holds raw remote text; the logger escapes it.
    private static func refusalLine(_ s: inout State, _ cause: RefusalCause, host: String?, detail: [(key: String, value: String)],
                                    nowMillis: UInt64) -> LogRecord? {
        guard let unlogged = s.refusals.note(cause, nowMillis: nowMillis) else { return nil }
        var record = LogRecord(.warn, "peer connection refused", ["cause": cause.rawValue])
        if let host { record.fields.append((key: "host", value: host)) }
        record.fields += detail
        record.fields.append((key: "unlogged_since_last", value: "\(unlogged)"))
        return record
    }
}
