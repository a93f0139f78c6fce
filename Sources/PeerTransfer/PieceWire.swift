import Glibc
import Networking

/// Reads and writes piece-protocol frames straight on a byte stream (the `Frame` layout: u32
/// length, u8 type, payload): a piece's payload is received into its own buffer with no extra
/// copy. The stream is the socket itself (plaintext, `--insecure` clusters: pieces leave with
/// `sendfile`) or TLS over it. One thread reads a connection; writes may come from the same
/// thread only.
public struct PieceWire: Sendable {
    /// The connected socket (timeouts, shutdown).
    public let socket: Socket
    /// What messages travel over: `socket`, or a TLS stream over it.
    public let stream: any ByteStream
    /// The peer's certificate fingerprint over TLS; nil in plaintext.
    public let peerFingerprint: CertificateFingerprint?
    /// Whether the stream is TLS.
    public let isEncrypted: Bool

    /// Wraps a plaintext socket whose handshake is done.
    public init(socket: Socket) {
        self.socket = socket
        stream = socket
        peerFingerprint = nil
        isEncrypted = false
    }

    /// Wraps a TLS stream whose handshake is done.
    public init(tls: TLSStream) {
        socket = tls.socket
        stream = tls
        peerFingerprint = tls.peerFingerprint
        isEncrypted = true
    }

    /// Whether a receive would not block (bytes buffered or waiting), within `timeoutMillis`.
    public func waitUntilReadable(timeoutMillis: Int) throws -> Bool {
        try stream.waitUntilReadable(timeoutMillis: timeoutMillis)
    }

    /// Sends one message.
    public func send(_ message: PieceMessage) throws {
        let payload = message.encodedPayload()
        var bytes = [UInt8]()
        bytes.reserveCapacity(payload.count + 5)
        appendHeader(to: &bytes, length: payload.count, type: message.kind.rawValue)
        bytes.append(contentsOf: payload)
        try stream.send(all: bytes)
    }

    /// Sends several small messages with one send.
    public func send(_ messages: [PieceMessage]) throws {
        var bytes = [UInt8]()
        for message in messages {
            let payload = message.encodedPayload()
            appendHeader(to: &bytes, length: payload.count, type: message.kind.rawValue)
            bytes.append(contentsOf: payload)
        }
        try stream.send(all: bytes)
    }

    /// Sends a piece whose bytes `fill` writes into the frame buffer (e.g. with `pread`), so the
    /// bytes are copied once from the file to the socket buffer. `fill` returns whether it
    /// produced exactly `length` bytes.
    public func sendPiece(index: UInt32, length: Int, fill: (UnsafeMutableRawBufferPointer) -> Bool) throws -> Bool {
        // Uninitialized: every byte is written below (header, index, then `fill`), or the
        // buffer is discarded (count 0) when `fill` fails.
        let bytes = [UInt8](unsafeUninitializedCapacity: 9 + length) { buffer, count in
            let total = 4 + length
            let header: [UInt8] = [UInt8(total >> 24 & 0xFF), UInt8(total >> 16 & 0xFF), UInt8(total >> 8 & 0xFF),
                                   UInt8(total & 0xFF), PieceMessage.Kind.piece.rawValue,
                                   UInt8(index >> 24), UInt8(index >> 16 & 0xFF), UInt8(index >> 8 & 0xFF), UInt8(index & 0xFF)]
            for i in 0..<9 { buffer[i] = header[i] }
            count = fill(UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buffer)[9...])) ? 9 + length : 0
        }
        guard bytes.count == 9 + length else { return false }
        try stream.send(all: bytes)
        return true
    }

    /// Sends piece `index` (`length` bytes of `file` at `offset`) with `sendfile(2)`: the bytes
    /// go from the page cache to the socket without a copy through this process. Returns false,
    /// having sent nothing, when the file is too short; a file that shrinks while it is sent
    /// ends the connection (the frame cannot be completed). Over TLS the bytes are read into the
    /// frame and sealed instead (the kernel cannot encrypt them here).
    public func sendPiece(index: UInt32, length: Int, file: PieceFile, offset: UInt64) throws -> Bool {
        guard !isEncrypted else {
            return try sendPiece(index: index, length: length) { buffer in (try? file.read(into: buffer, at: offset)) == true }
        }
        guard let start = off_t(exactly: offset), length >= 0, start <= off_t.max - off_t(length),
              let size = try? file.size(), offset + UInt64(length) <= size else { return false }
        var header: [UInt8] = []
        appendHeader(to: &header, length: 4 + length, type: PieceMessage.Kind.piece.rawValue)
        header += [UInt8(index >> 24), UInt8(index >> 16 & 0xFF), UInt8(index >> 8 & 0xFF), UInt8(index & 0xFF)]
        try socket.send(all: header)
        var position = start
        var left = length
        var interrupts = 0
        while left > 0 {
            let sent = Glibc.sendfile(socket.descriptor, file.descriptor, &position, left)
            if sent > 0 {
                left -= sent
                interrupts = 0
                continue
            }
            let code = sent == 0 ? EIO : errno
            if code == EINTR, interrupts < 16 {
                interrupts += 1
                continue
            }
            if code == EAGAIN || code == EWOULDBLOCK { throw SocketError.timedOut(operation: "sendfile") }
            throw SocketError.system(operation: "sendfile", code: code)
        }
        return true
    }

    /// Receives the next message; a payload above `maxBytes` (or above the control limit for
    /// anything but a piece or, with `maxBytes` that admits one, a piece list) is an error
    /// before anything is allocated for it.
    public func receive(maxBytes: Int = TransferLimits.frameBytesMax) throws -> PieceMessage {
        var header = [UInt8](repeating: 0, count: 5)
        try header.withUnsafeMutableBytes { try receiveExactly($0, allowingCleanEOF: true) }
        let length = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
        let type = header[4]
        if type == PieceMessage.Kind.piece.rawValue {
            guard length >= 4, length <= maxBytes, length - 4 <= TransferLimits.pieceSizeBytes else {
                throw FrameError.oversized(length: UInt64(length), limit: maxBytes)
            }
            var index = [UInt8](repeating: 0, count: 4)
            try index.withUnsafeMutableBytes { try receiveExactly($0, allowingCleanEOF: false) }
            // Uninitialized: `receiveExactly` fills every byte or throws (count stays 0).
            let bytes = try [UInt8](unsafeUninitializedCapacity: length - 4) { buffer, count in
                try receiveExactly(UnsafeMutableRawBufferPointer(buffer), allowingCleanEOF: false)
                count = length - 4
            }
            let number = UInt32(index[0]) << 24 | UInt32(index[1]) << 16 | UInt32(index[2]) << 8 | UInt32(index[3])
            return .piece(index: number, bytes: bytes)
        }
        // A piece list is as large as a piece; only a downloader (which accepts pieces) takes one.
        let isList = type == PieceMessage.Kind.pieceList.rawValue && maxBytes >= TransferLimits.pieceListFrameBytesMax
        let limit = isList ? TransferLimits.pieceListFrameBytesMax : TransferLimits.controlFrameBytesMax
        guard length <= limit else { throw FrameError.oversized(length: UInt64(length), limit: limit) }
        var payload = [UInt8](repeating: 0, count: length)
        try payload.withUnsafeMutableBytes { try receiveExactly($0, allowingCleanEOF: false) }
        return try PieceMessage.decode(type: type, payload: payload)
    }

    private func receiveExactly(_ buffer: UnsafeMutableRawBufferPointer, allowingCleanEOF: Bool) throws {
        var offset = 0
        while offset < buffer.count {
            let got = try stream.receive(into: UnsafeMutableRawBufferPointer(rebasing: buffer[offset...]), deadline: nil)
            if got == 0 { throw offset == 0 && allowingCleanEOF ? FrameError.closed : FrameError.truncated }
            offset += got
        }
    }

    private func appendHeader(to bytes: inout [UInt8], length: Int, type: UInt8) {
        bytes.append(contentsOf: [UInt8(length >> 24 & 0xFF), UInt8(length >> 16 & 0xFF),
                                  UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type])
    }

}
