import Foundation
import Networking
import SystemClock
import TrackerProtocol

extension TrackerClient {
    /// How often a long-lived connection asks its tracker for the members again (before the
    /// next request once this much time has passed since the last answer). Short, so a client
    /// that is in use follows trackers being replaced one after another: it must learn the new
    /// ones before the last tracker it knows is gone. One status round trip a second at most.
    static let membersRefreshMillis: UInt64 = 1_000

    /// The connection to the finder's target, opened (and asked for the members) if needed.
    /// Before leaving a tracker for one whose certificate no pin names (a redirect to a tracker
    /// added at runtime), the members are asked of the tracker still connected: it is
    /// authenticated, and its configuration pins the new one's certificate.
    func currentConnection(_ state: inout State, connectMillis: Int) throws -> FramedConnection {
        state.finder.learn(members.trackers)
        let target = state.finder.target
        if let connection = state.connection, state.connectedTo == target.id {
            let now = SystemClock.monotonicMillis()
            if now >= state.membersAskedMillis &+ Self.membersRefreshMillis { askMembers(on: connection, state: &state) }
            return connection
        }
        if let old = state.connection, tls != nil, let address = try? PeerAddress.parse(target.address),
           !members.pins(for: target.id, address: address).isSpecific {
            askMembers(on: old, state: &state)
        }
        state.connection?.close()
        state.connection = nil
        let chosen = state.finder.target
        let connection = try connect(to: chosen, timeoutMillis: connectMillis)
        state.connection = connection
        state.connectedTo = chosen.id
        askMembers(on: connection, state: &state)
        return connection
    }

    /// Asks the connected (authenticated) tracker for its status and learns its members; a
    /// failure is ignored (the request that follows finds a broken connection on its own) and
    /// leaves the refresh due, so the next request asks again.
    private func askMembers(on connection: FramedConnection, state: inout State) {
        let tag = state.nextTag
        state.nextTag += 1
        let request = ClientRequest(clientID: clientID, sequence: 0, token: [], operation: .clusterStatus)
        guard case let .status(status)? = try? exchange(request, tag: tag, on: connection) else { return }
        state.membersAskedMillis = SystemClock.monotonicMillis()
        members.learn(status)
        state.finder.learn(members.trackers)
    }

    func connect(to tracker: LeaderFinder.Tracker, timeoutMillis: Int? = nil) throws -> FramedConnection {
        let parsed = try PeerAddress.parse(tracker.address)
        let socket = try Socket.connect(host: parsed.host, port: parsed.port, timeoutMillis: timeoutMillis ?? timing.connectTimeoutMillis)
        do {
            let connection = try secure(socket, tracker: tracker.id, address: parsed)
            _ = try Handshake.perform(on: connection, as: .dialer, role: .client, id: clientID, key: nil, auth: authenticator)
            try socket.setReceiveTimeout(millis: timing.attemptTimeoutMillis)
            return connection
        } catch {
            socket.close()
            throw TrackerRefusal.classify(error) // a tracker at its limits closing us is retried after a backoff
        }
    }

    /// TLS pinned to tracker `id`'s certificate (`ClusterMembers.pins`: its cluster.conf line,
    /// the cluster's configuration, or any known pin for a tracker none names), or plaintext.
    private func secure(_ socket: Socket, tracker id: TrackerID, address: PeerAddress) throws -> FramedConnection {
        guard let tls else { return FramedConnection(socket: socket) }
        let pins = members.pins(for: id, address: address)
        guard !pins.fingerprints.isEmpty else { throw TrackerClientError.notPinned("\(pins.name) has no sha256: fingerprint") }
        let deadline = ContinuousClock.now + .milliseconds(timing.connectTimeoutMillis + NetworkingLimits.handshakeTimeoutMillis)
        do {
            return FramedConnection(tls: try TLSStream.handshake(socket: socket, context: tls, verification: .pinned(Set(pins.fingerprints)), deadline: deadline))
        } catch TLSError.peerNotPinned(let presented) {
            let pinned = pins.fingerprints.map(\.description).joined(separator: " or ")
            throw TrackerClientError.notPinned("\(pins.name) presented certificate \(presented), but \(pins.isSpecific ? "it is pinned to" : "no known member pins it:") \(pinned)")
        }
    }

    func exchange(_ request: ClientRequest, tag: UInt64, on connection: FramedConnection) throws -> ClientResponse {
        let payload = ServiceFrame.tagged(tag, ServiceCodec.encode(request))
        try connection.writeFrame(Frame(type: ServiceFrame.request, payload: payload))
        // Answers to earlier attempts on this connection may still arrive: skip them.
        for _ in 0..<64 {
            let frame = try connection.readFrame(maxBytes: ServiceCodec.bodyBytesMax + 64)
            guard frame.type == ServiceFrame.response else { continue }
            let (answerTag, body) = try ServiceFrame.untagged(frame.payload)
            if answerTag == tag { return try ServiceCodec.decodeResponse(body) }
        }
        throw TrackerClientError.unavailable("no answer with the expected tag")
    }
}
