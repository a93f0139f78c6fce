import Consensus
import Networking
import TrackerHosting
import TrackerStateMachine

/// Every accepted socket of the tracker on one thread, the event loop's (the thread that also
/// runs the `HostExecutor`): the listener, handshakes, client connections and the links peer
/// trackers dialed to us. Level-triggered epoll, non-blocking sockets; a connection costs a
/// table entry, its partial frame and its unsent bytes, never a thread.
///
/// What arrives becomes host inputs (`takeIntake`), handed to the executor on the same thread
/// with no handoff; replies are written from here with non-blocking sends, batched per
/// connection. The inputs come in three lanes: the control lane (`controlInputs`: password and
/// snapshot results, shutdown) is a queue other threads push to and is never dropped; Raft
/// messages are read from peer sockets with a per-wake budget (a peer that floods waits in its
/// own TCP buffers, and Raft resends what a slow link lost); client requests get back-pressure
/// from each client's window of unanswered requests (a full window stops reading it, and TCP
/// pushes back on that client alone).
///
/// Bounds: the admission budget and per-address share at accept (keeping
/// `ConnectionLimits.descriptorsReserved` free), the handshake deadline, the client idle
/// timeout, each client's window, each outbox's size and send deadline. One owner closes each
/// socket: `close(_:error:)`.
final class ConnectionLoop {
    static let listenerToken: UInt64 = 0
    static let wakeToken: UInt64 = 1

    let poll: EventPoll
    let listener: Socket
    let wake: WakeSignal
    let selfID: NodeID
    let peerIDs: Set<NodeID>
    let security: PeerSecurity
    /// The server side of TLS for accepted connections; nil: plaintext.
    let tls: TLSContext?
    let counters: ShellCounters
    let gauge = ConnectionGauge()
    let restorer: SnapshotRestorer
    let deadlines: ConnectionDeadlines
    var admission: AddressAdmission
    var connections: [UInt64: Connection] = [:]
    private var nextNumber: UInt64 = 2
    var scratch = [UInt8](repeating: 0, count: NetworkingLimits.readChunkBytes)
    /// Unsent bytes of every outbox together.
    var outboxBytesTotal = 0
    /// What arrived for the host since the last `takeIntake`.
    var intake: [HostInput] = []
    /// Clients whose window reopened while frames wait in their decoder.
    var resumable: [UInt64] = []
    /// Connections with bytes queued since the last flush of replies.
    var unflushed: [UInt64] = []
    var listenerPausedUntilMillis: UInt64?
    var nextSweepMillis: UInt64 = 0
    /// Snapshots being received, by sending peer: kept across connections so that a broken
    /// transfer resumes where it stopped.
    var assemblies: [NodeID: SnapshotAssembly] = [:]

    /// Takes over `listener` (made non-blocking). `wake` is the control lane's wake-up; `tls`
    /// the server context every accepted connection starts with (nil: plaintext).
    init(listener: Socket, wake: WakeSignal, selfID: NodeID, peerIDs: Set<NodeID>, security: PeerSecurity,
         admission: AddressAdmission.Limits, counters: ShellCounters, restorer: SnapshotRestorer,
         deadlines: ConnectionDeadlines = ConnectionDeadlines(), tls: TLSContext? = nil) throws {
        poll = try EventPoll()
        self.listener = listener
        self.wake = wake
        self.selfID = selfID
        self.peerIDs = peerIDs
        self.security = security
        self.tls = tls
        self.admission = AddressAdmission(limits: admission)
        self.counters = counters
        self.restorer = restorer
        self.deadlines = deadlines
        try listener.setBlocking(false)
        try poll.add(listener.descriptor, token: Self.listenerToken, events: .readable)
        try poll.add(wake.descriptor, token: Self.wakeToken, events: .readable)
    }

    /// Waits up to `timeoutMillis` for sockets or a wake-up, and serves what is ready.
    func serve(timeoutMillis: Int) {
        let events: [PollEvent]
        do { events = try poll.wait(timeoutMillis: timeoutMillis) } catch {
            Log.warnLimited("epoll wait failed", ["error": "\(error)"])
            return
        }
        for event in events {
            switch event.token {
            case Self.listenerToken: acceptWaiting()
            case Self.wakeToken: wake.clear()
            default:
                guard let connection = connections[event.token] else { continue }
                serve(connection, event.events)
            }
        }
        resumeWindows()
        flushUnflushed()
        let now = monotonicMillis()
        resumeListenerIfDue(nowMillis: now)
        if now >= nextSweepMillis {
            sweep(nowMillis: now)
            nextSweepMillis = now + UInt64(ConnectionLimits.sweepIntervalMillis)
        }
    }

    /// The host inputs that arrived, in arrival order.
    func takeIntake() -> [HostInput] {
        defer { intake.removeAll(keepingCapacity: true) }
        return intake
    }

    /// Milliseconds until the next sweep of deadlines is due.
    func millisUntilSweep(nowMillis: UInt64) -> Int {
        nextSweepMillis > nowMillis ? Int(nextSweepMillis - nowMillis) : 0
    }

    private func serve(_ connection: Connection, _ events: PollEvents) {
        let now = monotonicMillis()
        if events.contains(.writable) { flush(connection, nowMillis: now) }
        if !events.intersection([.readable, .failed]).isEmpty, isOpen(connection), connection.isReading {
            receive(connection, nowMillis: now)
        }
        if events.contains(.failed), isOpen(connection), !connection.isReading {
            close(connection, error: FrameError.closed)
        }
        if isOpen(connection) { updateInterest(connection) }
    }

    func isOpen(_ connection: Connection) -> Bool { connections[connection.number] === connection }

    /// Reads what is waiting (at most `ConnectionLimits.readBytesPerWakeMax`) and takes the
    /// frames it completes.
    private func receive(_ connection: Connection, nowMillis: UInt64) {
        var budget = ConnectionLimits.readBytesPerWakeMax
        while budget > 0, isOpen(connection), connection.isReading {
            let outcome: ReceiveOutcome
            do {
                outcome = try scratch.withUnsafeMutableBytes { try connection.socket.receiveAvailable(into: $0) }
            } catch {
                close(connection, error: error)
                return
            }
            switch outcome {
            case .wouldBlock: return
            case .endOfStream:
                let wasMidFrame = connection.decoder.bufferedByteCount > 0
                close(connection, error: wasMidFrame ? FrameError.truncated : FrameError.closed)
                return
            case let .received(count):
                budget -= count
                guard decode(scratch[0..<count], on: connection, nowMillis: nowMillis) else { return }
                takeFrames(connection, nowMillis: nowMillis)
            }
        }
    }

    /// Passes received bytes through the connection's transport into its decoder; false when
    /// the connection was closed (a TLS failure or close_notify).
    private func decode(_ bytes: ArraySlice<UInt8>, on connection: Connection, nowMillis: UInt64) -> Bool {
        guard let tls = connection.tls else {
            connection.decoder.append(bytes)
            return true
        }
        do {
            let received = try tls.receive(bytes)
            connection.decoder.append(received.plaintext)
            queueRaw(tls.takeOutgoing(), on: connection, nowMillis: nowMillis)
            if received.isClosed {
                takeFrames(connection, nowMillis: nowMillis)
                close(connection, error: connection.decoder.bufferedByteCount > 0 ? FrameError.truncated : FrameError.closed)
                return false
            }
            return true
        } catch {
            queueRaw(tls.takeOutgoing(), on: connection, nowMillis: nowMillis)
            flush(connection, nowMillis: nowMillis)
            close(connection, error: error)
            return false
        }
    }

    /// Takes whole frames from the decoder while the connection may be read.
    func takeFrames(_ connection: Connection, nowMillis: UInt64) {
        // Bounded: each pass consumes one frame of the bytes already received.
        while isOpen(connection), connection.isReading {
            do {
                guard let frame = try connection.decoder.nextFrame(maxBytes: connection.frameBytesMax) else { return }
                try take(frame, on: connection, nowMillis: nowMillis)
            } catch let error as FrameError where connection.kind == .handshaking {
                close(connection, error: AcceptorHandshake.error(for: error))
                return
            } catch {
                close(connection, error: error)
                return
            }
        }
    }

    private func take(_ frame: Frame, on connection: Connection, nowMillis: UInt64) throws {
        switch connection.kind {
        case .handshaking: continueHandshake(connection, with: frame, nowMillis: nowMillis)
        case .client: try takeRequest(frame, on: connection, nowMillis: nowMillis)
        case let .peer(peer): try takeRaftFrame(frame, on: connection, from: peer, nowMillis: nowMillis)
        }
    }

    /// Clients whose window reopened: their buffered frames first, then their socket again.
    private func resumeWindows() {
        guard !resumable.isEmpty else { return }
        let numbers = resumable
        resumable.removeAll()
        let now = monotonicMillis()
        for number in numbers {
            guard let connection = connections[number], connection.isReading else { continue }
            takeFrames(connection, nowMillis: now)
            if isOpen(connection) { updateInterest(connection) }
        }
    }

    /// Registers an accepted socket the loop now owns (with a TLS layer when the tracker serves TLS).
    func register(_ socket: Socket, remote: PeerAddress, nowMillis: UInt64) -> Connection? {
        let number = nextNumber
        nextNumber += 1
        var transport: TLSTransport?
        do {
            if let tls { transport = TLSTransport(session: try TLSSession(context: tls, verification: .optionalCertificate)) }
            try poll.add(socket.descriptor, token: number, events: .readable)
        } catch {
            Log.warnLimited("cannot serve connection", ["remote": remote.description, "error": "\(error)"])
            socket.close()
            admission.release(address: remote.host, nowMillis: nowMillis)
            return nil
        }
        let connection = Connection(number: number, socket: socket, remote: remote, tls: transport, nowMillis: nowMillis)
        connections[number] = connection
        return connection
    }

    /// Watches the connection for reading while it may be read, and for writing while bytes wait.
    func updateInterest(_ connection: Connection) {
        var wanted: PollEvents = connection.isReading ? .readable : []
        if !connection.outbox.isEmpty { wanted.insert(.writable) }
        guard wanted != connection.watched else { return }
        do {
            try poll.modify(connection.socket.descriptor, token: connection.number, events: wanted)
            connection.watched = wanted
        } catch {
            close(connection, error: error)
        }
    }

    /// Closes every connection and the listener (at exit, and in tests).
    func closeAll() {
        for number in connections.keys.sorted() {
            if let connection = connections[number] { close(connection, error: nil) }
        }
        poll.remove(listener.descriptor)
        listener.close()
    }

    /// Closes a connection: the one place a socket of the loop is closed. `error` says why
    /// (an orderly close or an idle timeout is not logged).
    func close(_ connection: Connection, error: (any Error)?) {
        guard isOpen(connection) else { return }
        connections[connection.number] = nil
        outboxBytesTotal -= connection.outbox.pendingByteCount
        poll.remove(connection.socket.descriptor)
        connection.socket.close()
        admission.release(address: connection.remote.host, nowMillis: monotonicMillis())
        if connection.kind == .client { gauge.add(-1) }
        guard let error else { return }
        if case FrameError.closed = error { return }
        if connection.kind == .handshaking {
            counters.count(.handshake)
            Log.warnLimited("handshake refused", ["remote": connection.remote.description, "reason": "\(error)"])
            return
        }
        Log.warnLimited("rejected frame, connection closed", ["remote": connection.remote.description, "peer": connection.peerLabel,
                                                              "reason": "\(error)"])
    }
}
