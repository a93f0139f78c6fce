import Networking
import SystemClock
import TrackerProtocol

/// A password attempt's tracker stopped leading; the attempt failed and is retried.
struct PasswordWaitError: Error, CustomStringConvertible {
    var description: String
}

extension TrackerClient {
    /// Sends password work (`create_user`, `login`) and waits for its answer on the same
    /// connection for as long as the tracker keeps saying it leads. A leader checks passwords
    /// first in, first out and never drops admitted work, so in a login storm the answer may
    /// take many attempt timeouts; giving up and reconnecting would only cost the leader a new
    /// handshake (over TLS, with a certificate) and put the login at the back of the queue.
    /// Whenever `policy.attemptTimeoutMillis / 2` passes without a frame, the client asks the
    /// tracker for its status on this connection: an answer naming it the leader proves it
    /// alive and in charge; silence for `policy.attemptTimeoutMillis` since the last sign of
    /// life fails the attempt, as before (a stopped leader costs the same as a plain timeout),
    /// and a status of anything but leader fails it at once. The wait ends at the call's deadline.
    func awaitPasswordAnswer(_ request: ClientRequest, tag: UInt64, nextTag: inout UInt64,
                             on connection: FramedConnection, untilMillis callDeadline: UInt64) throws -> ClientResponse {
        let payload = ServiceFrame.tagged(tag, ServiceCodec.encode(request))
        try connection.writeFrame(Frame(type: ServiceFrame.request, payload: payload))
        let silenceMillis = max(2, timing.policy.attemptTimeoutMillis)
        var heardMillis = SystemClock.monotonicMillis()
        var probe: UInt64?
        while true {
            let now = SystemClock.monotonicMillis()
            let waitUntil = min(callDeadline, heardMillis + (probe == nil ? silenceMillis / 2 : silenceMillis))
            let frame: Frame
            do {
                guard now < waitUntil else { throw SocketError.timedOut(operation: "receive") }
                frame = try connection.readFrame(maxBytes: ServiceCodec.bodyBytesMax + 64,
                                                 deadline: .now + .milliseconds(Int(waitUntil - now)))
            } catch SocketError.timedOut where probe == nil && now < callDeadline {
                probe = nextTag
                nextTag += 1
                let status = ClientRequest(clientID: clientID, sequence: request.sequence, operation: .clusterStatus)
                try connection.writeFrame(Frame(type: ServiceFrame.request, payload: ServiceFrame.tagged(probe ?? 0, ServiceCodec.encode(status))))
                continue
            }
            guard frame.type == ServiceFrame.response else { continue }
            let (answerTag, body) = try ServiceFrame.untagged(frame.payload)
            if answerTag == tag { return try ServiceCodec.decodeResponse(body) }
            guard answerTag == probe else { continue } // an earlier attempt's answer
            guard case let .status(status) = try ServiceCodec.decodeResponse(body), status.role == .leader else {
                throw PasswordWaitError(description: "the tracker no longer leads")
            }
            heardMillis = SystemClock.monotonicMillis()
            probe = nil
        }
    }
}
