import Dispatch
import Networking
import TrackerHosting
import TrackerProtocol

extension Listener {
    /// Reads a client's requests until it closes, falls silent for
    /// `ConnectionLimits.clientIdleTimeoutMillis`, or sends something wrong. At most
    /// `requestsInFlightPerConnectionMax` requests are unanswered at once: beyond that the reader
    /// stops reading (the client's sends back up) until replies go out. `create_user` and
    /// `login` pass a per-address token bucket first, else they are answered "retry later" here,
    /// before any password work is queued.
    func readRequests(from connection: FramedConnection, remote address: PeerAddress) {
        let remote = address.description
        let link = clients.add(connection, remote: remote)
        defer {
            clients.remove(link)
            link.close()
        }
        do {
            while true {
                let frame = try connection.readFrame(maxBytes: ConnectionLimits.clientFrameBytesMax,
                                                     deadline: .now + .milliseconds(ConnectionLimits.clientIdleTimeoutMillis))
                guard frame.type == ServiceFrame.request else { throw RejectedFrame("unexpected frame type \(frame.type)") }
                let (tag, body) = try ServiceFrame.untagged(frame.payload)
                let decoded = Result { try ServiceCodec.decodeRequest(body) }
                let idleDeadline = DispatchTime.now() + .milliseconds(ConnectionLimits.clientIdleTimeoutMillis)
                guard link.acquireSlot(deadline: idleDeadline) else { return } // closed, or replies not read
                let target = ReplyTarget(connection: link.number, tag: tag)
                if case let .failure(refused as UnsupportedRequestVersion) = decoded {
                    // A client of another build: say why, in the response format every build reads.
                    Log.warnLimited("request in an unsupported format refused", ["remote": remote, "version": "\(refused.version)"])
                    clients.answer(target, .rejected(reason: refused.description))
                    continue
                }
                let request = try decoded.get()
                if Self.isPasswordRequest(request.operation),
                   !admission.withLock({ $0.allowPasswordRequest(address: address.host, nowMillis: monotonicMillis()) }) {
                    Log.warnLimited("password request refused: too many from this address", ["remote": remote])
                    clients.answer(target, .retryLater(reason: "too many password requests from this address"))
                    continue
                }
                inputs.push(.request(request, target))
            }
        } catch {
            logClosed(error, remote: remote, peer: "client")
        }
    }

    static func isPasswordRequest(_ operation: ServiceOperation) -> Bool {
        switch operation {
        case .createUser, .login: true
        case .command, .query, .clusterStatus: false
        }
    }

    func logClosed(_ error: any Error, remote: String, peer: String) {
        if case FrameError.closed = error { return }
        if case SocketError.timedOut = error { return } // an idle client: normal, it reconnects when it needs to
        Log.warnLimited("rejected frame, connection closed", ["remote": remote, "peer": peer, "reason": "\(error)"])
    }
}
