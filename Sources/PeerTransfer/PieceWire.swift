import Glibc
import Networking

/// Reads and writes piece-protocol frames straight on a socket (the `Frame` layout: u32 length,
/// u8 type, payload): a piece's payload is received into its own buffer with no extra copy.
/// One thread reads a connection; writes may come from the same thread only.
public struct PieceWire: Sendable {
    /// The connected socket.
    public let socket: Socket

    /// Wraps a socket whose handshake is done.
    public init(socket: Socket) { self.socket = socket }

    /// Sends one message.
    public func send(_ message: PieceMessage) throws {
        let payload = message.encodedPayload()
        var bytes = [UInt8]()
        bytes.reserveCapacity(payload.count + 5)
        appendHeader(to: &bytes, length: payload.count, type: message.kind.rawValue)
        bytes.append(contentsOf: payload)
        try socket.send(all: bytes)
    }

    /// Sends several small messages with one send.
    public func send(_ messages: [PieceMessage]) throws {
        var bytes = [UInt8]()
        for message in messages {
            let payload = message.encodedPayload()
            appendHeader(to: &bytes, length: payload.count, type: message.kind.rawValue)
            bytes.append(contentsOf: payload)
        }
        try socket.send(all: bytes)
    }

    /// Sends a piece whose bytes `fill` writes into the frame buffer (e.g. with `pread`), so the
    /// bytes are copied once from the file to the socket buffer. `fill` returns whether it
    /// produced exactly `length` bytes.
    public func sendPiece(index: UInt32, length: Int, fill: (UnsafeMutableRawBufferPointer) -> Bool) throws -> Bool {
        var bytes = [UInt8](repeating: 0, count: 9 + length)
        appendHeaderInPlace(&bytes, length: 4 + length, type: PieceMessage.Kind.piece.rawValue)
        bytes[5] = UInt8(index >> 24); bytes[6] = UInt8(index >> 16 & 0xFF)
        bytes[7] = UInt8(index >> 8 & 0xFF); bytes[8] = UInt8(index & 0xFF)
        let filled = bytes.withUnsafeMutableBytes { fill(UnsafeMutableRawBufferPointer(rebasing: $0[9...])) }
        guard filled else { return false }
        try socket.send(all: bytes)
        return true
    }

    /// Receives the next message; a payload above `maxBytes` (or above the control limit for
    /// anything but a piece) is an error before anything is allocated for it.
    public func receive(maxBytes: Int = TransferLimits.frameBytesMax) throws -> PieceMessage {
        var header = [UInt8](repeating: 0, count: 5)
        try receiveExactly(&header, count: 5, allowingCleanEOF: true)
        let length = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
        let type = header[4]
        let limit = type == PieceMessage.Kind.piece.rawValue ? maxBytes : TransferLimits.controlFrameBytesMax
        guard length <= limit else { throw FrameError.oversized(length: UInt64(length), limit: limit) }
        var payload = [UInt8](repeating: 0, count: length)
        try receiveExactly(&payload, count: length, allowingCleanEOF: false)
        return try PieceMessage.decode(type: type, payload: payload)
    }

    private func receiveExactly(_ buffer: inout [UInt8], count: Int, allowingCleanEOF: Bool) throws {
        var offset = 0
        while offset < count {
            let got = try buffer.withUnsafeMutableBytes { raw in
                try socket.receive(into: UnsafeMutableRawBufferPointer(rebasing: raw[offset..<count]))
            }
            if got == 0 { throw offset == 0 && allowingCleanEOF ? FrameError.closed : FrameError.truncated }
            offset += got
        }
    }

    private func appendHeader(to bytes: inout [UInt8], length: Int, type: UInt8) {
        bytes.append(contentsOf: [UInt8(length >> 24 & 0xFF), UInt8(length >> 16 & 0xFF),
                                  UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type])
    }

    private func appendHeaderInPlace(_ bytes: inout [UInt8], length: Int, type: UInt8) {
        bytes[0] = UInt8(length >> 24 & 0xFF); bytes[1] = UInt8(length >> 16 & 0xFF)
        bytes[2] = UInt8(length >> 8 & 0xFF); bytes[3] = UInt8(length & 0xFF); bytes[4] = type
    }
}
