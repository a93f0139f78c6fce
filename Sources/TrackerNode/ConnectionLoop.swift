import Consensus
import Networking
import TrackerHosting
import TrackerStateMachine

/// Every socket of the tracker on one thread, the event loop's: the listener, accepted
/// connections (handshake, then client or peer tracker), and the links this tracker dialed to
/// its peers. Level-triggered epoll, non-blocking sockets; a connection costs a table entry,
/// its partial frame and its unsent bytes, never a thread. What arrives becomes host inputs
/// (`takeIntake`), handed straight to the executor on the same thread; replies and Raft
/// messages are written from here with non-blocking sends. Bounds: the admission budget and
/// per-address share at accept (keeping `ConnectionLimits.descriptorsReserved` free), the
/// handshake deadline, the client idle timeout, each client's window of unanswered requests
/// (a full window stops reading it), each outbox's size and send deadline.
final class ConnectionLoop {
    static let listenerToken: UInt64 = 0
    static let wakeToken: UInt64 = 1

    let poll: EventPoll
    let listener: Socket
    let inputs: InputQueue
    let selfID: NodeID
    let peerIDs: Set<NodeID>
    let security: PeerSecurity
    let stateLimits: Limits
    let counters: ShellCounters
    let gauge = ConnectionGauge()
    let restorer: SnapshotRestorer
    let dialers: PeerDialers
    let snapshotInlineBytesMax: Int
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
    var listenerPausedUntilMillis: UInt64?
    private var nextSweepMillis: UInt64 = 0
    /// Snapshots being received, by sending peer: kept across connections so that a broken
    /// transfer resumes where it stopped.
    var assemblies: [NodeID: SnapshotAssembly] = [:]
    /// Each peer's live outgoing link (a connection number), and a large snapshot being sent.
    var links: [NodeID: UInt64] = [:]
    var streams: [NodeID: SnapshotStream] = [:]
    var droppedPeerMessages: UInt64 = 0

    init(listener: Socket, inputs: InputQueue, selfID: NodeID, peerIDs: Set<NodeID>, security: PeerSecurity,
         admission: AddressAdmission.Limits, stateLimits: Limits, counters: ShellCounters,
         dialers: PeerDialers, snapshotInlineBytesMax: Int) throws {
        poll = try EventPoll()
        self.listener = listener
        self.inputs = inputs
        self.selfID = selfID
        self.peerIDs = peerIDs
        self.security = security
        self.admission = AddressAdmission(limits: admission)
        self.stateLimits = stateLimits
        self.counters = counters
        self.dialers = dialers
        self.snapshotInlineBytesMax = snapshotInlineBytesMax
        restorer = SnapshotRestorer(inputs: inputs, limits: stateLimits)
        try listener.setBlocking(false)
        try poll.add(listener.descriptor, token: Self.listenerToken, events: .readable)
        try poll.add(inputs.wake.descriptor, token: Self.wakeToken, events: .readable)
    }

    func start() { restorer.start() }

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
            case Self.wakeToken: inputs.wake.clear()
            default:
                guard let connection = connections[event.token] else { continue }
                serve(connection, event.events)
            }
        }
        resumeWindows()
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
        if events.contains(.readable) || events.contains(.failed), isOpen(connection), connection.isReading {
            receive(connection, nowMillis: now)
        }
        if events.contains(.failed), isOpen(connection), !connection.isReading {
            close(connection, error: FrameError.closed)
        }
        if isOpen(connection) { updateInterest(connection) }
    }

    func isOpen(_ connection: Connection) -> Bool { connections[connection.number] === connection }

    /// Reads what is waiting (at most `ConnectionLimits.readBytesPerWakeMax`, so one busy
    /// connection cannot starve the others) and takes the frames it completes.
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
                connection.decoder.append(scratch[0..<count])
                takeFrames(connection, nowMillis: nowMillis)
            }
        }
    }

    /// Takes whole frames from the decoder while the connection may be read.
    func takeFrames(_ connection: Connection, nowMillis: UInt64) {
        // Bounded: each pass consumes one frame of the bytes already received.
        while isOpen(connection), connection.isReading {
            do {
                guard let frame = try connection.decoder.nextFrame(maxBytes: connection.frameBytesMax) else { return }
                try take(frame, on: connection, nowMillis: nowMillis)
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
        case let .peerIn(peer): try takeRaftFrame(frame, on: connection, from: peer)
        case let .peerOut(peer): try takeLinkAnswer(frame, on: connection, peer: peer)
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

    /// Registers a socket the loop now owns.
    func register(_ socket: Socket, remote: PeerAddress, kind: Connection.Kind, isAdmitted: Bool, nowMillis: UInt64) -> Connection? {
        let number = nextNumber
        nextNumber += 1
        let connection = Connection(number: number, socket: socket, remote: remote, kind: kind, isAdmitted: isAdmitted, nowMillis: nowMillis)
        do { try poll.add(socket.descriptor, token: number, events: .readable) } catch {
            Log.warnLimited("cannot watch connection", ["remote": remote.description, "error": "\(error)"])
            socket.close()
            if isAdmitted { admission.release(address: remote.host, nowMillis: nowMillis) }
            return nil
        }
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

    /// Closes a connection: the one place a socket of the loop is closed. `error` says why
    /// (an orderly close or an idle timeout is not logged).
    func close(_ connection: Connection, error: (any Error)?) {
        guard isOpen(connection) else { return }
        connections[connection.number] = nil
        outboxBytesTotal -= connection.outbox.pendingByteCount
        poll.remove(connection.socket.descriptor)
        connection.socket.close()
        let now = monotonicMillis()
        if connection.isAdmitted { admission.release(address: connection.remote.host, nowMillis: now) }
        switch connection.kind {
        case .client: gauge.add(-1)
        case let .peerOut(peer): linkClosed(peer, connection: connection)
        case .handshaking, .peerIn: break
        }
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
