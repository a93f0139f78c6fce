import Dispatch
import Networking
import Synchronization

/// One client connection as the reply writer and its reader thread share it: the replies not
/// yet sent (an outbox the writer fills and drains with non-blocking sends), and the window of
/// requests read but not yet answered. The reader thread owns the socket and is the only one
/// that closes it; the writer only shuts it down, under the same lock, so it never sends on a
/// descriptor number the kernel has already given to another file.
final class ClientLink: Sendable {
    let number: UInt64
    let connection: FramedConnection
    /// `ip:port`, for logs.
    let remote: String
    private let state = Mutex(State())
    private let slotFreed = DispatchSemaphore(value: 0)

    private struct State {
        var inFlight = 0
        var queued: [UInt8] = []
        var sentCount = 0
        /// For each queued reply not yet fully sent, the offset in `queued` where it ends.
        var replyEnds: [Int] = []
        var replyEndsHead = 0
        /// When the oldest unsent byte last saw no progress (writer's clock); nil when empty.
        var stalledSinceMillis: UInt64?
        var isClosed = false
        var isReaderWaiting = false

        var pendingByteCount: Int { queued.count - sentCount }
    }

    init(number: UInt64, connection: FramedConnection, remote: String) {
        self.number = number
        self.connection = connection
        self.remote = remote
    }

    /// Reader: takes a slot of the in-flight window, waiting until `deadline` for one. False
    /// when the link closed or no reply went out in time.
    func acquireSlot(deadline: DispatchTime) -> Bool {
        while true {
            let isAcquired: Bool? = state.withLock { state in
                if state.isClosed { return false }
                if state.inFlight < ConnectionLimits.requestsInFlightPerConnectionMax {
                    state.inFlight += 1
                    state.isReaderWaiting = false
                    return true
                }
                state.isReaderWaiting = true
                return nil
            }
            if let isAcquired { return isAcquired }
            if slotFreed.wait(timeout: deadline) == .timedOut { return false }
        }
    }

    /// Writer: gives back a slot whose reply will never be sent (e.g. it did not encode).
    func releaseSlot() {
        state.withLock { state in
            state.inFlight = max(0, state.inFlight - 1)
            wakeReader(&state)
        }
    }

    /// Writer: queues one encoded reply (sealed into TLS records first over TLS: the outbox
    /// holds what goes on the wire); returns the bytes now waiting (0 once closed).
    func enqueue(_ bytes: [UInt8], nowMillis: UInt64) -> Int {
        state.withLock { state in
            guard !state.isClosed else { return 0 }
            let wire: [UInt8]
            do {
                wire = try (connection.stream as? TLSStream)?.seal(bytes) ?? bytes
            } catch {
                shutDown(&state)
                return 0
            }
            if state.pendingByteCount == 0 { state.stalledSinceMillis = nowMillis }
            state.queued.append(contentsOf: wire)
            state.replyEnds.append(state.queued.count)
            return state.pendingByteCount
        }
    }

    /// Writer: sends what the socket takes now, without waiting (with `sending` false, only
    /// reports). Returns the bytes still waiting and since when they made no progress; nil when
    /// the link is closed or the send failed.
    func flush(nowMillis: UInt64, sending: Bool = true) -> (pendingBytes: Int, stalledSinceMillis: UInt64)? {
        state.withLock { state in
            guard !state.isClosed else { return nil }
            guard state.pendingByteCount > 0 else { return (0, nowMillis) }
            guard sending else { return (state.pendingByteCount, state.stalledSinceMillis ?? nowMillis) }
            let sent: Int
            do {
                sent = try connection.socket.sendAvailable(state.queued[state.sentCount...])
            } catch {
                shutDown(&state)
                return nil
            }
            if sent > 0 {
                state.sentCount += sent
                state.stalledSinceMillis = nowMillis
                releaseSent(&state)
            }
            return (state.pendingByteCount, state.stalledSinceMillis ?? nowMillis)
        }
    }

    /// Writer: ends a link whose client does not read: shuts the socket (waking its reader,
    /// which closes it) and drops the queued replies.
    func kill() {
        state.withLock { shutDown(&$0) }
    }

    /// Reader, when it is done with the connection: the only place the socket is closed.
    func close() {
        state.withLock { state in
            state.isClosed = true
            state.queued = []
            connection.close()
        }
    }

    private func shutDown(_ state: inout State) {
        guard !state.isClosed else { return }
        state.isClosed = true
        state.queued = []
        state.sentCount = 0
        try? connection.socket.shutdown(.both)
        wakeReader(&state)
    }

    /// Frees a window slot for every reply now fully sent, and compacts the outbox.
    private func releaseSent(_ state: inout State) {
        var released = 0
        while state.replyEndsHead < state.replyEnds.count, state.replyEnds[state.replyEndsHead] <= state.sentCount {
            state.replyEndsHead += 1
            released += 1
        }
        if state.sentCount == state.queued.count {
            state.queued.removeAll(keepingCapacity: state.queued.capacity <= NetworkingLimits.readChunkBytes)
            state.sentCount = 0
            state.replyEnds.removeAll(keepingCapacity: true)
            state.replyEndsHead = 0
            state.stalledSinceMillis = nil
        } else if state.sentCount >= NetworkingLimits.readChunkBytes, 2 * state.sentCount >= state.queued.count {
            let dropped = state.sentCount
            state.queued.removeFirst(dropped)
            state.replyEnds = state.replyEnds[state.replyEndsHead...].map { $0 - dropped }
            state.replyEndsHead = 0
            state.sentCount = 0
        }
        guard released > 0 else { return }
        state.inFlight = max(0, state.inFlight - released)
        wakeReader(&state)
    }

    private func wakeReader(_ state: inout State) {
        if state.isReaderWaiting || state.isClosed {
            state.isReaderWaiting = false
            slotFreed.signal()
        }
    }
}
