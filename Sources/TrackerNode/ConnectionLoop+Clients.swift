import Networking
import TrackerHosting
import TrackerProtocol

extension ConnectionLoop {
    /// Takes one client request: it occupies a slot of the client's window until its reply is
    /// with the kernel. Over TLS a login must name the certificate the connection presented.
    /// `create_user` and `login` pass a per-address token bucket first, else they are answered
    /// "retry later" here, before any password work is queued.
    func takeRequest(_ frame: Frame, on connection: Connection, nowMillis: UInt64) throws {
        if connection.isAdmin { return try takeAdminRequest(frame, on: connection, nowMillis: nowMillis) }
        guard frame.type == ServiceFrame.request else { throw RejectedFrame("unexpected frame type \(frame.type)") }
        let (tag, body) = try ServiceFrame.untagged(frame.payload)
        let decoded = Result { try ServiceCodec.decodeRequest(body) }
        let target = ReplyTarget(connection: connection.number, tag: tag)
        if case let .failure(refused as UnsupportedRequestVersion) = decoded {
            // A client of another build: say why, in the response format every build reads.
            Log.warnLimited("request in an unsupported format refused", ["remote": connection.remote.description,
                                                                         "version": "\(refused.version)"])
            connection.inFlight += 1
            answer(target, .rejected(reason: refused.description))
            return
        }
        let request = try decoded.get()
        connection.inFlight += 1
        connection.lastRequestMillis = nowMillis
        if let refusal = Self.certificateRefusal(of: request.operation, on: connection.tls) {
            Log.warnLimited("login refused: certificate mismatch", ["remote": connection.remote.description])
            answer(target, .rejected(reason: refusal))
            return
        }
        if Self.isPasswordRequest(request.operation), !admission.allowPasswordRequest(address: connection.remote.host, nowMillis: nowMillis) {
            Log.warnLimited("password request refused: too many from this address", ["remote": connection.remote.description])
            answer(target, .retryLater(reason: "too many password requests from this address"))
            return
        }
        intake.append(.request(request, target, certificate: connection.tls.map { $0.peerFingerprint?.digest ?? [] }))
    }

    /// Takes one `tracker-node member ...` request (only on a connection that proved the key).
    func takeAdminRequest(_ frame: Frame, on connection: Connection, nowMillis: UInt64) throws {
        guard frame.type == AdminCodec.requestFrame else { throw RejectedFrame("unexpected frame type \(frame.type)") }
        let (tag, body) = try ServiceFrame.untagged(frame.payload)
        let request = try AdminCodec.decode(body)
        connection.inFlight += 1
        connection.lastRequestMillis = nowMillis
        Log.info("membership request", ["remote": connection.remote.description, "request": "\(request)"])
        intake.append(.admin(request, ReplyTarget(connection: connection.number, tag: tag)))
    }

    /// Why a login is refused for the certificate it names: over TLS (`transport` non-nil) it
    /// must be the one the connection presented (the session is recorded with it, and peers
    /// admit it by it). A client without a certificate can do everything else.
    static func certificateRefusal(of operation: ServiceOperation, on transport: TLSTransport?) -> String? {
        guard case let .login(_, _, _, named) = operation, let transport else { return nil }
        guard let presented = transport.peerFingerprint, named == presented.digest else {
            return "a login must name the certificate its connection presented"
        }
        return nil
    }

    static func isPasswordRequest(_ operation: ServiceOperation) -> Bool {
        switch operation {
        case .createUser, .login: true
        case .command, .query, .clusterStatus: false
        }
    }

    /// Writes the host's replies: each is queued on its connection (if still open), then every
    /// connection that got some is flushed once, with one send for all its replies.
    func send(_ replies: [Reply]) {
        for reply in replies { queueReply(reply.target, reply.response) }
        flushUnflushed()
    }

    /// Queues an answer the shell gives itself (a refusal before the host sees the request);
    /// it goes out with the next flush.
    func answer(_ target: ReplyTarget, _ response: ClientResponse) {
        queueReply(target, response)
    }

    private func queueReply(_ target: ReplyTarget, _ response: ClientResponse) {
        guard let connection = connections[target.connection], connection.kind == .client else { return }
        let payload = ServiceFrame.tagged(target.tag, ServiceCodec.encode(response))
        guard let bytes = try? Frame.encode([Frame(type: ServiceFrame.response, payload: payload)],
                                            maxBytes: ConnectionLimits.clientFrameBytesMax) else {
            releaseSlots(1, of: connection) // a reply too large for the client to read; it times out and retries
            return
        }
        queue(bytes, isReply: true, on: connection, nowMillis: monotonicMillis())
    }

    /// Queues handshake or protocol frames (not replies) and leaves them for the next flush.
    func queue(_ frames: [Frame], on connection: Connection, nowMillis: UInt64) {
        guard let bytes = try? Frame.encode(frames) else { return }
        queue(bytes, isReply: false, on: connection, nowMillis: nowMillis)
    }

    /// Passes plaintext through the connection's transport into its outbox.
    private func queue(_ bytes: [UInt8], isReply: Bool, on connection: Connection, nowMillis: UInt64) {
        guard let tls = connection.tls else {
            queueRaw(bytes, isReply: isReply, on: connection, nowMillis: nowMillis)
            return
        }
        do {
            try tls.seal(bytes)
        } catch {
            close(connection, error: error)
            return
        }
        let sealed = tls.takeOutgoing()
        if sealed.isEmpty && isReply { releaseSlots(1, of: connection) } // nothing to wait for
        queueRaw(sealed, isReply: isReply, on: connection, nowMillis: nowMillis)
    }

    /// Queues bytes ready for the socket (ciphertext under TLS).
    func queueRaw(_ bytes: [UInt8], isReply: Bool = false, on connection: Connection, nowMillis: UInt64) {
        guard !bytes.isEmpty, isOpen(connection) else { return }
        if connection.outbox.isEmpty { unflushed.append(connection.number) }
        connection.outbox.append(bytes, isReply: isReply, nowMillis: nowMillis)
        outboxBytesTotal += bytes.count
    }

    /// Flushes every connection queued to since the last time, and cuts those whose backlog
    /// is over its bound.
    func flushUnflushed() {
        guard !unflushed.isEmpty else { return }
        let numbers = unflushed
        unflushed.removeAll(keepingCapacity: true)
        let now = monotonicMillis()
        for number in numbers {
            guard let connection = connections[number] else { continue }
            flush(connection, nowMillis: now)
            guard isOpen(connection) else { continue }
            let pending = connection.outbox.pendingByteCount
            if pending > ConnectionLimits.outboxBytesPerConnectionMax || outboxBytesTotal > ConnectionLimits.outboxBytesTotalMax {
                cut(connection, reason: "reply backlog too large")
            } else {
                updateInterest(connection)
            }
        }
    }

    /// Sends what the socket takes now, without waiting; a send error closes the connection.
    func flush(_ connection: Connection, nowMillis: UInt64) {
        guard isOpen(connection), !connection.outbox.isEmpty else { return }
        let before = connection.outbox.pendingByteCount
        let released: Int
        do {
            released = try connection.outbox.flush(nowMillis: nowMillis) { try connection.socket.sendAvailable($0) }
        } catch {
            close(connection, error: error)
            return
        }
        outboxBytesTotal -= before - connection.outbox.pendingByteCount
        releaseSlots(released, of: connection)
    }

    /// Gives a client's window `count` slots back; a window that reopens is read again.
    private func releaseSlots(_ count: Int, of connection: Connection) {
        guard count > 0, connection.kind == .client else { return }
        let wasFull = !connection.isReading
        connection.inFlight = max(0, connection.inFlight - count)
        if wasFull, connection.isReading { resumable.append(connection.number) }
    }

    /// Closes what is past a deadline: handshakes not done in time, clients silent for the
    /// idle timeout, and connections whose unsent bytes made no progress for
    /// `deadlines.replyStallMillis` (a client that stops reading hurts only itself).
    func sweep(nowMillis: UInt64) {
        var expired: [(number: UInt64, why: Expiry)] = []
        for (number, connection) in connections {
            if let why = expiry(of: connection, nowMillis: nowMillis) { expired.append((number, why)) }
        }
        // Sorted, so that what is logged does not depend on the table's order.
        for (number, why) in expired.sorted(by: { $0.number < $1.number }) {
            guard let connection = connections[number] else { continue }
            switch why {
            case .handshake: close(connection, error: SocketError.timedOut(operation: "handshake"))
            case .idle: close(connection, error: nil) // normal: it reconnects when it needs to
            case .stalled: cut(connection, reason: "replies not read")
            }
        }
    }

    enum Expiry { case handshake, idle, stalled }

    private func expiry(of connection: Connection, nowMillis: UInt64) -> Expiry? {
        let age = nowMillis >= connection.openedAtMillis ? nowMillis - connection.openedAtMillis : 0
        if connection.kind == .handshaking, age >= UInt64(deadlines.handshakeMillis) { return .handshake }
        if connection.outbox.stalledMillis(nowMillis: nowMillis) >= UInt64(deadlines.replyStallMillis) { return .stalled }
        guard connection.kind == .client, connection.inFlight == 0 else { return nil }
        let silent = nowMillis >= connection.lastRequestMillis ? nowMillis - connection.lastRequestMillis : 0
        return silent >= UInt64(deadlines.clientIdleMillis) ? .idle : nil
    }

    /// Ends a connection whose reader does not keep up, dropping what it was sent.
    private func cut(_ connection: Connection, reason: String) {
        let pending = connection.outbox.pendingByteCount
        close(connection, error: nil)
        Log.warnLimited("client connection closed: it does not read its replies",
                        ["remote": connection.remote.description, "reason": reason, "pending.bytes": "\(pending)"])
    }
}
