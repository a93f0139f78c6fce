import Dispatch
import Networking
import TrackerHosting
import TrackerProtocol

extension Listener {
    /// Reads `tracker-node member ...` requests from a connection that proved the cluster key
    /// under tracker id 0, until it closes, falls silent for
    /// `ConnectionLimits.clientIdleTimeoutMillis`, or sends something else. Answers go back
    /// through the client replies (a `ServiceFrame.response` each).
    func readAdminRequests(from connection: FramedConnection, remote address: PeerAddress) {
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
                guard frame.type == AdminCodec.requestFrame else { throw RejectedFrame("unexpected frame type \(frame.type)") }
                let (tag, body) = try ServiceFrame.untagged(frame.payload)
                let request = try AdminCodec.decode(body)
                let idleDeadline = DispatchTime.now() + .milliseconds(ConnectionLimits.clientIdleTimeoutMillis)
                guard link.acquireSlot(deadline: idleDeadline) else { return }
                Log.info("membership request", ["remote": remote, "request": "\(request)"])
                inputs.push(.admin(request, ReplyTarget(connection: link.number, tag: tag)))
            }
        } catch {
            logClosed(error, remote: remote, peer: "admin")
        }
    }
}
