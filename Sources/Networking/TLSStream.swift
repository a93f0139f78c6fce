import Glibc
import Synchronization

/// TLS 1.3 over a blocking `Socket`: a `TLSSession` driven by blocking sends and receives,
/// offering what `FramedConnection` needs (`ByteStream`), so frames run over TLS unchanged.
///
/// Like `FramedConnection`, one reader thread and any number of writer threads may share it:
/// writes are serialized (records leave in the order they were sealed), the session is locked
/// only while OpenSSL runs, never while a socket call blocks.
public final class TLSStream: ByteStream {
    /// Ciphertext received but not yet taken by the session: `chunk[unfed]`.
    private struct ReadState: ~Copyable {
        var chunk: [UInt8]
        var unfed: Range<Int>
    }

    /// The underlying socket (timeouts, shutdown to wake a blocked reader, addresses).
    public let socket: Socket
    /// The peer's certificate fingerprint (nil only on a server that did not require one).
    public let peerFingerprint: CertificateFingerprint?
    /// The negotiated cipher suite, e.g. "TLS_AES_128_GCM_SHA256".
    public let cipherSuite: String
    private let session: Mutex<TLSSession>
    private let writeLock = Mutex(())
    private let readState: Mutex<ReadState>

    private init(socket: Socket, session: sending TLSSession, unfed: [UInt8]) {
        self.socket = socket
        if case .done(let fingerprint) = session.handshakeState { peerFingerprint = fingerprint } else { peerFingerprint = nil }
        cipherSuite = session.cipherSuite ?? "unknown"
        self.session = Mutex(session)
        readState = Mutex(ReadState(chunk: unfed, unfed: 0..<unfed.count))
    }

    /// Runs the handshake of a new `TLSSession` of `context` over the connected `socket`,
    /// which must finish before `deadline` (else `SocketError.timedOut`). Throws `TLSError` when
    /// the peer is refused, speaks something other than TLS 1.3, or the session fails; the
    /// socket is left open for the caller to close either way.
    public static func handshake(
        socket: Socket, context: TLSContext, verification: PeerVerification, deadline: ContinuousClock.Instant
    ) throws -> TLSStream {
        let session = try TLSSession(context: context, verification: verification)
        var chunk = [UInt8](repeating: 0, count: TLSLimits.receiveChunkBytes)
        var input: [UInt8] = []
        // Each step either ends the handshake or feeds at least one received byte.
        for _ in 0..<TLSLimits.handshakeStepsMax {
            let state = session.advanceHandshake()
            switch state {
            case .done:
                try send(session.takeCiphertext(), over: socket)
                return TLSStream(socket: socket, session: session, unfed: input)
            case .failed(let error):
                try? send(session.takeCiphertext(), over: socket)
                throw error
            case .inProgress:
                try send(session.takeCiphertext(), over: socket)
            }
            if input.isEmpty {
                guard try socket.waitUntilReadable(before: deadline) else { throw SocketError.timedOut(operation: "TLS handshake") }
                let count = try socket.receive(into: &chunk)
                if count == 0 {
                    session.feedEndOfStream()
                    continue
                }
                input = Array(chunk[0..<count])
            }
            input.removeFirst(try session.feed(input[...]))
        }
        throw TLSError.openSSL(operation: "handshake", reason: "more than \(TLSLimits.handshakeStepsMax) steps")
    }

    private static func send(_ bytes: [UInt8], over socket: Socket) throws {
        if !bytes.isEmpty { try socket.send(all: bytes) }
    }

    /// Encrypts and sends every byte (records of up to 16 KiB), serialized with other senders.
    public func send(all bytes: [UInt8]) throws {
        guard !bytes.isEmpty else { return }
        try writeLock.withLock { _ in
            var offset = 0
            // Each pass seals at least one byte or sends at least one byte of ciphertext.
            while offset < bytes.count {
                let (consumed, ciphertext) = try session.withLock { session in
                    let consumed = try bytes.withUnsafeBytes { raw in
                        try session.write(plaintext: UnsafeRawBufferPointer(rebasing: raw[offset...]))
                    }
                    return (consumed, session.takeCiphertext())
                }
                offset += consumed
                if !ciphertext.isEmpty {
                    try socket.send(all: ciphertext)
                } else if consumed == 0 {
                    throw TLSError.openSSL(operation: "write", reason: "no progress")
                }
            }
        }
    }

    /// Receives and decrypts up to `buffer.count` plaintext bytes; 0 once the peer sent
    /// close_notify. The end of the transport without it throws `TLSError.unexpectedEndOfStream`;
    /// a bad record throws `TLSError.openSSL`.
    public func receive(into buffer: UnsafeMutableRawBufferPointer, deadline: ContinuousClock.Instant?) throws -> Int {
        guard !buffer.isEmpty else { return 0 }
        let target = BufferAddress(buffer)
        return try readState.withLock { state in
            // Each pass returns, throws, or feeds at least one received byte.
            while true {
                let (result, fed, hasOutput) = try state.chunk.withUnsafeBytes { [unfed = state.unfed] chunk in
                    let input = BufferAddress(UnsafeRawBufferPointer(rebasing: chunk[unfed]))
                    return try session.withLock { session in
                        let fed = input.count == 0 ? 0 : try session.feed(ciphertext: input.readable)
                        return (try session.read(into: target.writable), fed, session.pendingCiphertextByteCount > 0)
                    }
                }
                state.unfed = state.unfed.dropFirst(fed)
                if hasOutput { try flushCiphertext() }
                switch result {
                case .bytes(let count): return count
                case .closed: return 0
                case .needsCiphertext: break
                }
                if !state.unfed.isEmpty {
                    guard fed > 0 || hasOutput else { throw TLSError.openSSL(operation: "read", reason: "ciphertext buffer stalled") }
                    continue
                }
                try receiveCiphertext(into: &state, deadline: deadline)
            }
        }
    }

    /// A buffer passed into the session lock as an address: region checking cannot see that
    /// the session uses it only during the synchronous call and never keeps it.
    private struct BufferAddress: Sendable {
        let address: UInt
        let count: Int

        init(_ buffer: UnsafeMutableRawBufferPointer) {
            address = UInt(bitPattern: buffer.baseAddress)
            count = buffer.count
        }

        init(_ buffer: UnsafeRawBufferPointer) {
            address = UInt(bitPattern: buffer.baseAddress)
            count = buffer.count
        }

        var writable: UnsafeMutableRawBufferPointer {
            UnsafeMutableRawBufferPointer(start: UnsafeMutableRawPointer(bitPattern: address), count: count)
        }

        var readable: UnsafeRawBufferPointer { UnsafeRawBufferPointer(writable) }
    }

    private func receiveCiphertext(into state: inout ReadState, deadline: ContinuousClock.Instant?) throws {
        if let deadline, try !socket.waitUntilReadable(before: deadline) { throw SocketError.timedOut(operation: "receive") }
        if state.chunk.count < TLSLimits.receiveChunkBytes { state.chunk = [UInt8](repeating: 0, count: TLSLimits.receiveChunkBytes) }
        let count = try socket.receive(into: &state.chunk)
        if count == 0 {
            session.withLock { $0.feedEndOfStream() }
        }
        state.unfed = 0..<count
    }

    /// Sends ciphertext a read produced (an alert or a key update answer), in order with writers.
    private func flushCiphertext() throws {
        try writeLock.withLock { _ in
            let ciphertext = session.withLock { $0.takeCiphertext() }
            if !ciphertext.isEmpty { try socket.send(all: ciphertext) }
        }
    }

    /// True at once when decrypted or undecrypted bytes are buffered; else waits on the socket.
    public func waitUntilReadable(timeoutMillis: Int) throws -> Bool {
        if session.withLock({ $0.hasBufferedInput }) { return true }
        return try socket.waitUntilReadable(timeoutMillis: timeoutMillis)
    }

    /// Sends close_notify if no writer is mid-send (without waiting for the socket), then closes
    /// the socket; calling it again does nothing.
    public func close() {
        guard !socket.isClosed else { return }
        writeLock.withLockIfAvailable { _ in
            let ciphertext = session.withLock { session in
                session.close()
                return session.takeCiphertext()
            }
            _ = try? socket.sendAvailable(ciphertext[...])
        }
        socket.close()
    }
}
