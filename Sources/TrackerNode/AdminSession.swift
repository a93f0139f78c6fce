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
/// and retries "retry later" and "no leader" answers until the deadline.
final class AdminSession {
    let cluster: ClusterConfig
    let key: [UInt8]?
    let deadline: Date
    /// Where the leader was last said to be.
    private var preferred: String?
    static let connectTimeoutMillis = 1_000
    static let answerTimeoutMillis = 5_000
    static let retryPauseMicros: UInt32 = 100_000

    init(cluster: ClusterConfig, key: [UInt8]?, deadline: Date) {
        self.cluster = cluster
        self.key = key
        self.deadline = deadline
    }

    /// Performs `request`; the status that answers it (for a change: the leader's, once the
    /// change committed; for a list: the leader's, or else the first tracker's that answers).
    func perform(_ request: AdminRequest) -> Result<TrackerStatus, AdminFailure> {
        let seeds = cluster.trackers.map(\.address.description)
        var lastReason = "no tracker answered"
        var attempt = 0
        var fallback: TrackerStatus?
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
                guard request == .list, status.role != .leader else { return .success(status) }
                if fallback == nil, status.leader != 0, let leader = status.members.first(where: { $0.id == status.leader }),
                   !leader.address.isEmpty, leader.address != address {
                    fallback = status
                    preferred = leader.address
                    continue
                }
                return .success(fallback ?? status)
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
            case .result, .loggedIn:
                return .failure(AdminFailure(text: "\(address): unexpected answer"))
            }
        }
        if let fallback { return .success(fallback) }
        return .failure(AdminFailure(text: lastReason))
    }

    /// One request on a new connection to `address`.
    private func ask(_ request: AdminRequest, at address: String) throws -> ClientResponse {
        let peer = try PeerAddress.parse(address)
        let socket = try Socket.connect(host: peer.host, port: peer.port, timeoutMillis: Self.connectTimeoutMillis)
        let connection = FramedConnection(socket: socket)
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
