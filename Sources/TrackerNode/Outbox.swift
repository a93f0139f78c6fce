import Networking

/// The bytes waiting to go out on one connection, sent with non-blocking sends as the socket
/// takes them. It remembers where each counted reply ends, so the connection's window gets a
/// slot back only once that reply's last byte is with the kernel, and since when the oldest
/// unsent byte made no progress (a reader that stopped reading is closed after a deadline).
/// No I/O of its own: `flush` is handed the send.
struct Outbox {
    private var queued: [UInt8] = []
    private var sentCount = 0
    /// For each counted reply not yet fully sent, the offset in `queued` where it ends.
    private var replyEnds: [Int] = []
    private var replyEndsHead = 0
    /// When the oldest unsent byte last saw progress; nil when nothing waits.
    private(set) var stalledSinceMillis: UInt64?

    /// Bytes not yet sent.
    var pendingByteCount: Int { queued.count - sentCount }
    var isEmpty: Bool { pendingByteCount == 0 }

    /// Queues `bytes`; `isReply` counts them as one reply (see `flush`'s result).
    mutating func append(_ bytes: [UInt8], isReply: Bool, nowMillis: UInt64) {
        guard !bytes.isEmpty else { return }
        if isEmpty { stalledSinceMillis = nowMillis }
        queued.append(contentsOf: bytes)
        if isReply { replyEnds.append(queued.count) }
    }

    /// Sends what `send` takes now (it returns how many bytes it took, 0 when the socket is
    /// full) and returns how many counted replies are now fully sent. A throwing send leaves
    /// the outbox as it was; the caller closes the connection.
    mutating func flush(nowMillis: UInt64, send: (ArraySlice<UInt8>) throws -> Int) rethrows -> Int {
        var released = 0
        // Bounded: each pass sends at least one byte or stops.
        while !isEmpty {
            let sent = try send(queued[sentCount...])
            guard sent > 0 else { break }
            sentCount += min(sent, pendingByteCount)
            stalledSinceMillis = nowMillis
            released += releaseSent()
        }
        compact()
        return released
    }

    /// Milliseconds the oldest unsent byte has waited without progress (0 when none waits).
    func stalledMillis(nowMillis: UInt64) -> UInt64 {
        guard !isEmpty, let since = stalledSinceMillis, nowMillis > since else { return 0 }
        return nowMillis - since
    }

    private mutating func releaseSent() -> Int {
        var released = 0
        while replyEndsHead < replyEnds.count, replyEnds[replyEndsHead] <= sentCount {
            replyEndsHead += 1
            released += 1
        }
        return released
    }

    /// Drops sent bytes once they are at least half the buffer (appends stay amortized O(1)),
    /// and everything once all is sent.
    private mutating func compact() {
        if sentCount == queued.count {
            queued.removeAll(keepingCapacity: queued.capacity <= NetworkingLimits.readChunkBytes)
            sentCount = 0
            replyEnds.removeAll(keepingCapacity: true)
            replyEndsHead = 0
            stalledSinceMillis = nil
        } else if sentCount >= NetworkingLimits.readChunkBytes, 2 * sentCount >= queued.count {
            let dropped = sentCount
            queued.removeFirst(dropped)
            replyEnds = replyEnds[replyEndsHead...].map { $0 - dropped }
            replyEndsHead = 0
            sentCount = 0
        }
    }
}
