import BinaryCoding
import Glibc
import Synchronization

/// One message on a connection. On the wire: `u32 payload length (big-endian) | u8 type | payload`;
/// the length counts the payload only, not the type byte.
public struct Frame: Equatable, Sendable {
    /// Bytes before the payload: the length and the type.
    public static let headerBytes = 5
    /// Types below this are reserved for the handshake (`HandshakeFrameType`); application
    /// protocols number their frames from here.
    public static let firstApplicationType: UInt8 = 16

    /// What the payload is; its meaning belongs to the protocol using the connection.
    public var type: UInt8
    /// The frame's body.
    public var payload: [UInt8]

    /// Makes a frame.
    public init(type: UInt8, payload: [UInt8] = []) {
        self.type = type
        self.payload = payload
    }

    /// Appends the frame's wire form to `writer`; throws `.oversized` above `maxBytes`.
    public func encode(into writer: inout ByteWriter, maxBytes: Int = NetworkingLimits.frameBytesMax) throws(FrameError) {
        guard payload.count <= maxBytes else { throw .oversized(length: UInt64(payload.count), limit: maxBytes) }
        writer.write(UInt32(payload.count))
        writer.write(type)
        writer.writeRaw(payload)
    }

    /// The wire form of several frames back to back, ready for one send.
    public static func encode(_ frames: [Frame], maxBytes: Int = NetworkingLimits.frameBytesMax) throws(FrameError) -> [UInt8] {
        var writer = ByteWriter(capacity: frames.reduce(0) { $0 + headerBytes + $1.payload.count })
        for frame in frames { try frame.encode(into: &writer, maxBytes: maxBytes) }
        return writer.bytes
    }
}

/// Why a frame could not be read or written. After any of these the connection is unusable.
public enum FrameError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A frame announced (or was given) a payload above the limit; nothing was allocated for it.
    case oversized(length: UInt64, limit: Int)
    /// The peer closed the connection in the middle of a frame.
    case truncated
    /// The peer closed the connection between frames.
    case closed

    /// One line, e.g. `frame of 4294967295 bytes exceeds the limit of 67108864`.
    public var description: String {
        switch self {
        case .oversized(let length, let limit): return "frame of \(length) bytes exceeds the limit of \(limit)"
        case .truncated: return "connection closed in the middle of a frame"
        case .closed: return "connection closed"
        }
    }
}

/// An incremental frame parser over bytes as they arrive: no I/O, so it can be driven by a
/// socket, a simulator or a test. Holds at most one partial frame plus one read's worth of bytes.
public struct FrameDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0

    /// Makes an empty decoder.
    public init() {}

    /// Bytes received but not yet returned as frames.
    public var bufferedByteCount: Int { buffer.count - start }

    /// Adds received bytes.
    public mutating func append(_ bytes: some Collection<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// The next whole frame, or nil when more bytes are needed. Throws `.oversized` as soon as
    /// a length above `maxBytes` is seen, before any payload is buffered.
    public mutating func nextFrame(maxBytes: Int = NetworkingLimits.frameBytesMax) throws(FrameError) -> Frame? {
        guard bufferedByteCount >= 4 else { return nil }
        var header = ByteReader(buffer[start..<(start + 4)])
        let length = Int((try? header.readUInt32()) ?? 0)
        guard length <= maxBytes else { throw .oversized(length: UInt64(length), limit: maxBytes) }
        guard bufferedByteCount >= Frame.headerBytes + length else { return nil }
        let payloadStart = start + Frame.headerBytes
        let frame = Frame(type: buffer[start + 4], payload: Array(buffer[payloadStart..<(payloadStart + length)]))
        start = payloadStart + length
        compact()
        return frame
    }

    /// Drops consumed bytes once they are at least half the buffer, keeping appends amortized O(1).
    private mutating func compact() {
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 2 * NetworkingLimits.readChunkBytes)
            start = 0
        } else if start >= NetworkingLimits.readChunkBytes, start * 2 >= buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
    }
}

/// Frames over a `Socket` or any other `ByteStream` (TLS: `TLSStream`): buffered reads (one
/// large receive can yield many frames) and whole frames or batches of frames written with one
/// send.
///
/// Reads are serialized among themselves and writes among themselves, so one reader thread and
/// any number of writer threads may share a connection; a frame is never interleaved with another.
/// Read memory grows only with bytes that actually arrived: the receive buffer starts at
/// `NetworkingLimits.readChunkBytesInitial` and doubles (up to `readChunkBytes`) only when a
/// receive fills it, and a frame's announced length is never allocated before its bytes come.
public final class FramedConnection: Sendable {
    private struct ReadState: ~Copyable {
        var decoder = FrameDecoder()
        var chunk = [UInt8](repeating: 0, count: NetworkingLimits.readChunkBytesInitial)
    }

    /// The underlying socket (for timeouts, shutdown, addresses).
    public let socket: Socket
    /// What frames travel over: the socket itself, or a TLS stream over it.
    public let stream: any ByteStream
    private let readState = Mutex(ReadState())
    private let writeLock = Mutex(())

    /// Wraps a connected socket; the connection now owns it.
    public init(socket: Socket) {
        self.socket = socket
        self.stream = socket
    }

    /// Wraps a TLS stream whose handshake is done; the connection now owns it.
    public init(tls: TLSStream) {
        self.socket = tls.socket
        self.stream = tls
    }

    /// Wraps another stream carried by `socket` (a layer its caller drives, e.g. a benchmark's
    /// TLS transport); the connection now owns both.
    public init(socket: Socket, stream: any ByteStream) {
        self.socket = socket
        self.stream = stream
    }

    /// Reads the next frame, blocking until it has fully arrived, or until `deadline` (when
    /// given) passes: then `SocketError.timedOut`, however the bytes trickled in. Throws
    /// `FrameError` for an announced payload above `maxBytes`, EOF inside a frame (`.truncated`)
    /// or between frames (`.closed`); `SocketError` for system errors and receive timeouts.
    public func readFrame(maxBytes: Int = NetworkingLimits.frameBytesMax, deadline: ContinuousClock.Instant? = nil) throws -> Frame {
        try readState.withLock { state in
            // Each pass either returns, throws, or receives at least one byte of a frame bounded
            // by maxBytes, so the loop ends.
            while true {
                if let frame = try state.decoder.nextFrame(maxBytes: maxBytes) { return frame }
                let count = try state.chunk.withUnsafeMutableBytes { try stream.receive(into: $0, deadline: deadline) }
                if count == 0 { throw state.decoder.bufferedByteCount == 0 ? FrameError.closed : FrameError.truncated }
                state.decoder.append(state.chunk[0..<count])
                if count == state.chunk.count, state.chunk.count < NetworkingLimits.readChunkBytes {
                    state.chunk = [UInt8](repeating: 0, count: min(2 * state.chunk.count, NetworkingLimits.readChunkBytes))
                }
            }
        }
    }

    /// Bytes this connection holds for reading: the receive buffer plus buffered frame bytes
    /// (for tests and accounting).
    public var readBufferByteCount: Int {
        readState.withLock { $0.chunk.count + $0.decoder.bufferedByteCount }
    }

    /// Writes one frame with one send.
    public func writeFrame(_ frame: Frame) throws {
        try writeFrames([frame])
    }

    /// Writes several frames back to back with one send (one system call unless it is partial).
    public func writeFrames(_ frames: [Frame]) throws {
        let bytes = try Frame.encode(frames)
        try writeLock.withLock { _ in try stream.send(all: bytes) }
    }

    /// Closes the stream (over TLS, close_notify first) and the socket; idempotent.
    public func close() {
        stream.close()
    }
}
