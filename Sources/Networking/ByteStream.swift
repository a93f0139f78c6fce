import Glibc

/// A reliable, ordered, blocking byte stream: what `FramedConnection` runs over. `Socket` is
/// one (plaintext TCP) and `TLSStream` another (TLS 1.3 over a `Socket`).
///
/// Sends may come from several threads if the conformer serializes them (both do); receives
/// from one thread at a time.
public protocol ByteStream: AnyObject, Sendable {
    /// Sends every byte or throws.
    func send(all bytes: [UInt8]) throws

    /// Receives at least 1 and up to `buffer.count` bytes; 0 means the peer ended the stream
    /// cleanly. With a `deadline`, waiting past it throws `SocketError.timedOut`; without one,
    /// the socket's receive timeout (if set) applies to each wait.
    func receive(into buffer: UnsafeMutableRawBufferPointer, deadline: ContinuousClock.Instant?) throws -> Int

    /// Whether a receive would return without waiting (bytes or EOF pending), waiting at most
    /// `timeoutMillis` (negative: forever).
    func waitUntilReadable(timeoutMillis: Int) throws -> Bool

    /// Ends the stream and closes its descriptor; calling it again does nothing.
    func close()
}

extension Socket: ByteStream {
    /// Receives after waiting (with `poll`) for bytes until `deadline`, when one is given.
    public func receive(into buffer: UnsafeMutableRawBufferPointer, deadline: ContinuousClock.Instant?) throws -> Int {
        if let deadline {
            guard try waitUntilReadable(before: deadline) else { throw SocketError.timedOut(operation: "receive") }
        }
        return try receive(into: buffer)
    }

    /// Waits until a receive would not block or `deadline` passes; false on timeout.
    func waitUntilReadable(before deadline: ContinuousClock.Instant) throws -> Bool {
        let millis = millisecondsLeft(until: deadline)
        guard millis > 0 else { return false }
        return try poll(events: Int16(POLLIN), timeoutMillis: millis)
    }
}

/// Whole milliseconds from now until `deadline`: 0 once it has passed, clamped to a day so a
/// far deadline cannot overflow.
func millisecondsLeft(until deadline: ContinuousClock.Instant) -> Int {
    let left = ContinuousClock.now.duration(to: deadline).components
    guard left.seconds >= 0 else { return 0 }
    let dayMillis = 86_400_000
    let seconds = min(left.seconds, Int64(dayMillis / 1000))
    return min(dayMillis, Int(seconds) * 1000 + Int(left.attoseconds / 1_000_000_000_000_000))
}
