import Consensus
import Networking

extension ConnectionLoop {
    /// Accepts waiting connections (at most `ConnectionLimits.acceptsPerWakeMax` per wake-up).
    /// Before anything is spent on one, it must fit the budget (which keeps descriptors free
    /// for storage) and its address's share; then it is sent our hello and has
    /// `ConnectionLimits.handshakeDeadlineMillis` to finish the handshake.
    func acceptWaiting() {
        for _ in 0..<ConnectionLimits.acceptsPerWakeMax {
            let socket: Socket
            do {
                guard let accepted = try listener.acceptAvailable() else { return }
                socket = accepted
            } catch {
                // Out of descriptors, most likely: stop watching the listener for a moment
                // rather than spin on it.
                Log.warnLimited("accept failed", ["error": "\(error)"])
                pauseListener()
                return
            }
            admit(socket)
        }
    }

    private func admit(_ socket: Socket) {
        guard let address = try? socket.remoteAddress else {
            socket.close()
            return
        }
        let now = monotonicMillis()
        if let refusal = admission.admit(address: address.host, nowMillis: now) {
            socket.close()
            counters.count(.connection)
            Log.warnLimited("connection refused", ["remote": address.description, "reason": refusal.description])
            return
        }
        guard let connection = register(socket, remote: address, nowMillis: now) else { return }
        let key = security.key
        let handshake = AcceptorHandshake(role: .tracker, id: selfID, auth: security.authenticator,
                                          keyFor: { $0 == .tracker ? key : nil })
        connection.handshake = handshake
        queue([handshake.greeting], on: connection, nowMillis: now)
        flush(connection, nowMillis: now)
        if isOpen(connection) { updateInterest(connection) }
    }

    private func pauseListener() {
        guard listenerPausedUntilMillis == nil else { return }
        poll.remove(listener.descriptor)
        listenerPausedUntilMillis = monotonicMillis() + UInt64(ConnectionLimits.acceptRetryMillis)
    }

    /// Watches the listener again once its pause is over.
    func resumeListenerIfDue(nowMillis: UInt64) {
        guard let until = listenerPausedUntilMillis, nowMillis >= until else { return }
        listenerPausedUntilMillis = nil
        do { try poll.add(listener.descriptor, token: Self.listenerToken, events: .readable) } catch {
            Log.warnLimited("cannot watch the listener", ["error": "\(error)"])
            listenerPausedUntilMillis = nowMillis + UInt64(ConnectionLimits.acceptRetryMillis)
        }
    }

    /// Feeds a handshake frame to the connection's handshake; on success the connection
    /// becomes a client's or a peer tracker's (a peer must name a tracker of cluster.conf other
    /// than this one, have proved the cluster key if there is one, and, unless the tracker runs
    /// `--insecure`, have presented the certificate cluster.conf pins for that id).
    func continueHandshake(_ connection: Connection, with frame: Frame, nowMillis: UInt64) {
        guard var handshake = connection.handshake else { return }
        let step = handshake.receive(frame)
        connection.handshake = handshake
        switch step {
        case let .send(frames):
            queue(frames, on: connection, nowMillis: nowMillis)
            flush(connection, nowMillis: nowMillis)
        case let .failed(error, frames):
            queue(frames, on: connection, nowMillis: nowMillis)
            flush(connection, nowMillis: nowMillis)
            close(connection, error: error)
        case let .done(peer, frames):
            connection.handshake = nil
            queue(frames, on: connection, nowMillis: nowMillis)
            flush(connection, nowMillis: nowMillis)
            guard isOpen(connection) else { return }
            becomeEstablished(connection, peer: peer, nowMillis: nowMillis)
        }
    }

    private func becomeEstablished(_ connection: Connection, peer: Hello, nowMillis: UInt64) {
        if peer.role == .tracker, peer.senderID == 0, let refusal = adminRefusal(connection) {
            counters.count(.handshake)
            Log.warnLimited("member tool refused", ["remote": connection.remote.description, "reason": refusal])
            close(connection, error: nil)
            return
        }
        if peer.role == .tracker, peer.senderID != 0, let refusal = trackerRefusal(connection, id: peer.senderID) {
            counters.count(.handshake)
            Log.warnLimited("tracker refused: certificate not pinned", ["remote": connection.remote.description, "reason": refusal])
            close(connection, error: nil)
            return
        }
        switch peer.role {
        case .tracker where peer.senderID == 0:
            // `tracker-node member ...`: it proved the cluster key, or presented a current
            // member's pinned certificate (`adminRefusal`).
            connection.kind = .client
            connection.isAdmin = true
            connection.lastRequestMillis = nowMillis
            gauge.add(1)
        case .tracker where peer.senderID != selfID:
            // Any id that proved the cluster key: the configuration in force (not the seed list
            // in `peerIDs`) decides what the core does with its messages, so a tracker that
            // joined later can reach this one.
            // No idle timeout: a link between two followers carries nothing in steady state. The
            // peer proved the cluster key, and its links count against its address's share.
            connection.kind = .peer(peer.senderID)
        case .client:
            connection.kind = .client
            connection.lastRequestMillis = nowMillis
            gauge.add(1)
        default:
            counters.count(.handshake)
            Log.warnLimited("connection refused", ["remote": connection.remote.description,
                                                   "reason": "role \(peer.role) id \(peer.senderID) not allowed"])
            close(connection, error: nil)
        }
    }
}

extension ConnectionLoop {
    /// Why a connection whose hello announced tracker `id` is refused (nil: let in). With pins
    /// (`security.tls`) it must have presented the one pinned for `id`; a TLS connection with
    /// no pins to check against is refused; plaintext without pins is `--insecure`.
    func trackerRefusal(_ connection: Connection, id: NodeID) -> String? {
        guard let pins = security.tls else {
            return connection.tls == nil ? nil : "no pinned certificates to check tracker \(id) against"
        }
        guard connection.tls != nil else { return "tracker \(id) connected without TLS" }
        return pins.trackerRefusal(id: id, presented: connection.tls?.peerFingerprint)
    }

    /// Why a `tracker-node member` connection (hello from tracker id 0) is refused (nil: let
    /// in). A cluster key, when there is one, was proved in the handshake: that suffices, as
    /// before TLS. Without a key, over TLS it must present the certificate pinned for a member
    /// of the configuration in force (the tool uses the identity of the tracker it runs
    /// beside); plaintext without a key is `--insecure`, where anyone may (and was warned).
    func adminRefusal(_ connection: Connection) -> String? {
        if security.key != nil { return nil }
        guard let tls = security.tls else { return connection.tls == nil ? nil : "no pinned certificates to check the member tool against" }
        guard connection.tls != nil else { return "a member tool connected without TLS" }
        return tls.adminRefusal(presented: connection.tls?.peerFingerprint)
    }
}
