import Consensus
import Dispatch
import Networking
import Synchronization

/// One outgoing peer link's state, shared by the event loop (which writes to it) and the
/// link's thread (which connects it and sends its backlog). Order is kept: the loop writes
/// directly only while no backlog waits and the thread is not sending; otherwise it appends to
/// the backlog, which the thread sends in order.
final class PeerLink: Sendable {
    /// Something to send: encoded frames, or a Raft message whose large snapshot is streamed.
    enum Item: Sendable {
        case bytes([UInt8])
        case snapshot(Message)
    }

    private struct State {
        var connection: FramedConnection?
        var backlog: [Item] = []
        var backlogBytes = 0
        var isThreadSending = false
        var dropped: UInt64 = 0
    }

    private let state = Mutex(State())
    private let backlogReady = DispatchSemaphore(value: 0)

    /// Messages dropped since start (link down, or its backlog full).
    var droppedCount: UInt64 { state.withLock { $0.dropped } }

    /// The event loop: sends `items` now if the link is idle and plaintext (a non-blocking
    /// send; what the kernel does not take joins the backlog), else queues them.
    func send(_ items: [Item]) {
        let isSignalling: Bool = state.withLock { state in
            guard let connection = state.connection else {
                state.dropped &+= UInt64(items.count)
                return false
            }
            var remaining = items[...]
            if state.backlog.isEmpty, !state.isThreadSending, connection.stream is Socket {
                remaining = sendNow(remaining, on: connection.socket)
            }
            guard !remaining.isEmpty else { return false }
            for item in remaining { append(item, to: &state) }
            return true
        }
        if isSignalling { backlogReady.signal() }
    }

    /// Writes leading byte items with non-blocking sends; returns what is left (from the
    /// first item not fully sent, its unsent tail first). A send error leaves everything to
    /// the thread, whose blocking send then fails and reconnects.
    private func sendNow(_ items: ArraySlice<Item>, on socket: Socket) -> ArraySlice<Item> {
        var items = items
        while let first = items.first, case let .bytes(bytes) = first {
            guard let sent = try? socket.sendAvailable(bytes[...]) else { return items }
            items.removeFirst()
            if sent < bytes.count {
                items.insert(.bytes(Array(bytes[sent...])), at: items.startIndex)
                return items
            }
        }
        return items
    }

    private func append(_ item: Item, to state: inout State) {
        let size: Int
        switch item {
        case let .bytes(bytes): size = bytes.count
        case let .snapshot(message): size = message.snapshot?.data.count ?? 0
        }
        // A partly sent frame's tail is never dropped (the stream would be corrupt); whole
        // messages are, once the backlog is full.
        guard state.backlogBytes + size <= PeerLinks.pendingBytesMax || state.backlog.isEmpty else {
            state.dropped &+= 1
            return
        }
        state.backlog.append(item)
        state.backlogBytes += size
    }

    /// The thread: waits for a backlog and takes it; the loop writes nothing directly until
    /// the thread asks again with an empty backlog. Empty once the link is detached.
    func takeBacklog() -> [Item] {
        while true {
            if let items = takeBacklog(waitingAtMostMillis: 1_000) { return items }
        }
    }

    /// The thread: as `takeBacklog()`, but gives up after `millis` with nil when nothing came
    /// (so an idle link can check that its peer is still there).
    func takeBacklog(waitingAtMostMillis millis: Int) -> [Item]? {
        let deadline = DispatchTime.now() + .milliseconds(millis)
        while true {
            let taken: [Item]? = state.withLock { state in
                guard state.connection != nil else { return [] }
                guard !state.backlog.isEmpty else {
                    state.isThreadSending = false
                    return nil
                }
                state.isThreadSending = true
                defer {
                    state.backlog = []
                    state.backlogBytes = 0
                }
                return state.backlog
            }
            if let taken { return taken }
            if backlogReady.wait(timeout: deadline) == .timedOut { return nil }
        }
    }

    /// The thread: the link is up (after its handshake).
    func attach(_ connection: FramedConnection) {
        state.withLock { state in
            state.connection = connection
            state.backlog = []
            state.backlogBytes = 0
            state.isThreadSending = false
        }
    }

    /// The link failed; what waited is dropped, and a thread waiting for a backlog returns.
    func detach() {
        state.withLock { state in
            state.connection = nil
            state.dropped &+= UInt64(state.backlog.count)
            state.backlog = []
            state.backlogBytes = 0
            state.isThreadSending = false
        }
        backlogReady.signal()
    }
}
