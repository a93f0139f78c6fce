import Networking
import Testing

@Suite("frames over loopback TCP", .serialized)
struct FrameTests {
    /// Payload sizes crossing the read-chunk boundary, plus a 10 MiB frame.
    static let sizes = [0, 1, 5, 100, 4095, 65_535, 65_536, 65_537, 200_000, 10 * 1024 * 1024, 3, 0]

    static func payload(size: Int, seed: Int) -> [UInt8] {
        (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed) }
    }

    @Test("many frames of varied sizes, sent singly and batched, arrive intact and in order")
    func roundTrip() throws {
        let (dialerSocket, acceptorSocket) = try makeConnectedPair()
        let sender = FramedConnection(socket: dialerSocket)
        let receiver = FramedConnection(socket: acceptorSocket)
        defer { sender.close(); receiver.close() }
        let frames = Self.sizes.enumerated().map { index, size in
            Frame(type: UInt8(Frame.firstApplicationType) &+ UInt8(index), payload: Self.payload(size: size, seed: index))
        }
        let small = (0..<500).map { Frame(type: 20, payload: Self.payload(size: $0 % 37, seed: $0)) }
        let writer = PeerThread<Void>.start {
            for frame in frames { try sender.writeFrame(frame) }
            try sender.writeFrames(small)
            try sender.socket.shutdown(.write)
        }
        for expected in frames + small {
            let frame = try receiver.readFrame()
            #expect(frame.type == expected.type)
            #expect(frame.payload.count == expected.payload.count)
            // A Bool, not the arrays: a failing #expect would render megabytes of elements.
            let isIntact = frame.payload == expected.payload
            #expect(isIntact)
        }
        #expect(throws: FrameError.closed) { _ = try receiver.readFrame() }
        try writer.join()
    }

    @Test("a 0xFFFFFFFF length is refused as oversized at once, without waiting for or allocating the payload")
    func refusesHugeLength() throws {
        let (dialer, acceptor) = try makeConnectedPair()
        let receiver = FramedConnection(socket: acceptor)
        defer { dialer.close(); receiver.close() }
        // Only the 5-byte header is sent and the connection stays open: a reader that tried to
        // read (or reserve) the payload would time out instead of throwing `.oversized`.
        try dialer.send(all: [0xFF, 0xFF, 0xFF, 0xFF, 0x10])
        #expect(throws: FrameError.oversized(length: 0xFFFF_FFFF, limit: NetworkingLimits.frameBytesMax)) {
            _ = try receiver.readFrame()
        }
    }

    @Test("the decoder refuses a length one above the limit and accepts one at the limit")
    func decoderLimitBoundary() throws {
        var decoder = FrameDecoder()
        decoder.append([0, 0, 0, 11, 7])
        #expect(throws: FrameError.oversized(length: 11, limit: 10)) { _ = try decoder.nextFrame(maxBytes: 10) }
        var atLimit = FrameDecoder()
        atLimit.append([0, 0, 0, 10, 7] + [UInt8](repeating: 9, count: 10))
        #expect(try atLimit.nextFrame(maxBytes: 10) == Frame(type: 7, payload: [UInt8](repeating: 9, count: 10)))
        #expect(atLimit.bufferedByteCount == 0)
    }

    @Test("the decoder waits for a whole frame and parses several from one chunk")
    func decoderIsIncremental() throws {
        let bytes = try Frame.encode([Frame(type: 1, payload: [1, 2, 3]), Frame(type: 2), Frame(type: 3, payload: [9])])
        var decoder = FrameDecoder()
        decoder.append(bytes.prefix(7))
        #expect(try decoder.nextFrame() == nil)
        decoder.append(bytes.dropFirst(7))
        #expect(try decoder.nextFrame() == Frame(type: 1, payload: [1, 2, 3]))
        #expect(try decoder.nextFrame() == Frame(type: 2))
        #expect(try decoder.nextFrame() == Frame(type: 3, payload: [9]))
        #expect(try decoder.nextFrame() == nil)
    }

    @Test("writing a payload above the limit is refused before anything is sent")
    func refusesOversizedWrite() {
        let frame = Frame(type: 1, payload: [UInt8](repeating: 0, count: 11))
        #expect(throws: FrameError.oversized(length: 11, limit: 10)) { _ = try Frame.encode([frame], maxBytes: 10) }
    }

    @Test("EOF in the middle of a frame is .truncated; EOF between frames is .closed")
    func truncatedThenEOF() throws {
        let (dialer, acceptor) = try makeConnectedPair()
        let receiver = FramedConnection(socket: acceptor)
        defer { dialer.close(); receiver.close() }
        var whole = try Frame.encode([Frame(type: 17, payload: [1, 2, 3, 4])])
        whole += [0, 0, 0, 100, 17, 1, 2, 3]  // promises 100 bytes, delivers 3
        try dialer.send(all: whole)
        try dialer.shutdown(.write)
        #expect(try receiver.readFrame() == Frame(type: 17, payload: [1, 2, 3, 4]))
        #expect(throws: FrameError.truncated) { _ = try receiver.readFrame() }
    }
}
