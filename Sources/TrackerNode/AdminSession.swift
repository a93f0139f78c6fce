import Foundation
import Networking
import TrackerHosting
import TrackerProtocol

/// Why a membership request failed: one line for the operator.
struct AdminFailure: Error {
    var text: String
}

/// Carries `AdminRequest`s to the cluster for `tracker-node member`: it tries the trackers of
/// cluster.conf in turn, follows redirects (to addresses that need not be in cluster.conf),
/// and retries "retry later" and "no leader" answers until the deadline. Over TLS each
/// tracker's certificate is checked before anything is sent: against its cluster.conf line,
/// or the pin the configuration gives a member added at runtime (learned from the trackers'
/// status answers, which the session asks first).
final class AdminSession {
    let cluster: ClusterConfig
    let key: [UInt8]?
    /// The context dialed with (nil: plaintext, `--insecure`).
    let tls: TLSContext?
    let deadline: Date
    /// Pins learned from status answers for addresses not in cluster.conf.
    private var learnedPins: [String: CertificateFingerprint] = [:]
    /// Where the leader was last said to be.
    private var preferred: String?
    static let connectTimeoutMillis = 1_000
    static let answerTimeoutMillis = 5_000
    static let retryPauseMicros: UInt32 = 100_000

    init(cluster: ClusterConfig, key: [UInt8]?, tls: TLSContext?, deadline: Date) {
        self.cluster = cluster
        self.key = key
        self.tls = tls
        self.deadline = deadline
    }

    /// Performs `request`; the status that answers it (for a change: the leader's, once the
    /// change committed; for a list: the leader's, or else the first tracker's that answers).
    func perform(_ request: AdminRequest) -> Result<TrackerStatus, AdminFailure> {
        if request == .list { return list() }
        if tls != nil && learnedPins.isEmpty { _ = list() } // the pins of members outside cluster.conf
        let seeds = cluster.trackers.map(\.address.description)
        var lastReason = "no tracker answered"
        var attempt = 0
        while Date() < deadline {
            let address = preferred ?? seeds[attempt % seeds.count]
            attempt += 1
            let response: ClientResponse
            do { response = try ask(request, at: address) } catch {
                lastReason = "\(address): \(error)"
                if preferred != nil { preferred = nil } else if attempt % seeds.count == 0 { usleep(Self.retryPauseMicros) }
                continue
            }
            switch response {
            case let .status(status):
                return .success(status)
            case let .redirect(_, leaderAddress):
                preferred = leaderAddress
            case .noLeader:
                lastReason = "no leader is elected (the cluster may be waiting for a quorum)"
                preferred = nil
                if attempt % seeds.count == 0 { usleep(Self.retryPauseMicros) }
            case let .retryLater(reason):
                lastReason = reason
                usleep(Self.retryPauseMicros)
            case let .rejected(reason):
                return .failure(AdminFailure(text: reason))
            case .result, .loggedIn, .possiblyStale:
                return .failure(AdminFailure(text: "\(address): unexpected answer"))
            }
        }
        return .failure(AdminFailure(text: lastReason))
    }

    /// The configuration as the leader sees it: asks every tracker of cluster.conf and every
    /// member the answers name (each once), and takes the leader of the highest term; without
    /// one, the answer of the highest term (a removed tracker may still hold an old view).
    func list() -> Result<TrackerStatus, AdminFailure> {
        var pending = cluster.trackers.map(\.address.description)
        var asked: [String] = []
        var best: TrackerStatus?
        var lastReason = "no tracker answered"
        while let address = pending.first, Date() < deadline, asked.count < Self.listAddressesMax {
            pending.removeFirst()
            asked.append(address)
            guard case let .status(status)? = try? ask(.list, at: address) else {
                lastReason = "\(address): no answer"
                continue
            }
            learn(status)
            if best == nil || (status.role == .leader ? 1 : 0, status.term) > (best!.role == .leader ? 1 : 0, best!.term) { best = status }
            for member in status.members where !member.address.isEmpty && !asked.contains(member.address) && !pending.contains(member.address) {
                pending.append(member.address)
            }
        }
        return best.map { .success($0) } ?? .failure(AdminFailure(text: lastReason))
    }

    /// The most trackers `list` asks.
    static let listAddressesMax = 32

    /// Remembers the pins `status` names for members outside cluster.conf.
    private func learn(_ status: TrackerStatus) {
        for member in status.members where cluster.trackers.allSatisfy({ $0.address.description != member.address }) {
            if let pin = CertificateFingerprint(digest: member.fingerprint) { learnedPins[member.address] = pin }
        }
    }

    /// What the tracker at `address` must present: its cluster.conf line's pin, else the pin
    /// learned for it, else any of cluster.conf's (a seed member at an address the
    /// configuration changed).
    private func pins(for address: String) -> Set<CertificateFingerprint> {
        if let line = cluster.trackers.first(where: { $0.address.description == address }) { return Set([line.fingerprint].compactMap { $0 }) }
        if let learned = learnedPins[address] { return [learned] }
        return Set(cluster.fingerprints)
    }

    /// One request on a new connection to `address`.
    private func ask(_ request: AdminRequest, at address: String) throws -> ClientResponse {
        let peer = try PeerAddress.parse(address)
        let socket = try Socket.connect(host: peer.host, port: peer.port, timeoutMillis: Self.connectTimeoutMillis)
        let connection: FramedConnection
        if let tls {
            let handshakeDeadline = ContinuousClock.now + .milliseconds(Self.connectTimeoutMillis)
            do {
                connection = FramedConnection(tls: try TLSStream.handshake(socket: socket, context: tls, verification: .pinned(pins(for: address)),
                                                                           deadline: handshakeDeadline))
            } catch {
                socket.close()
                throw error
            }
        } else {
            connection = FramedConnection(socket: socket)
        }
        defer { connection.close() }
        _ = try Handshake.perform(on: connection, as: .dialer, role: .tracker, id: 0, key: key, auth: libcryptoAuthenticator())
        try connection.writeFrame(Frame(type: AdminCodec.requestFrame, payload: ServiceFrame.tagged(1, AdminCodec.encode(request))))
        let remainingMillis = max(100, min(Self.answerTimeoutMillis, Int(deadline.timeIntervalSinceNow * 1_000)))
        let frame = try connection.readFrame(deadline: .now + .milliseconds(remainingMillis))
        guard frame.type == ServiceFrame.response else { throw AdminFailure(text: "unexpected frame type \(frame.type)") }
        let (_, body) = try ServiceFrame.untagged(frame.payload)
        return try ServiceCodec.decodeResponse(body)
    }
}
