import Glibc
import Networking
import Testing

@Suite("socket wrapper", .serialized)
struct SocketTests {
    @Test("listening on a port already in use fails with 'address … already in use'")
    func portInUse() throws {
        let (listener, port) = try makeListener()
        defer { listener.close() }
        #expect {
            _ = try Socket.listen(host: "127.0.0.1", port: port)
        } throws: { error in
            (error as? SocketError) == .addressInUse(host: "127.0.0.1", port: port)
                && "\(error)" == "address 127.0.0.1:\(port) already in use"
        }
    }

    @Test("a receive with a timeout and no data times out instead of hanging")
    func receiveTimesOut() throws {
        let (dialer, acceptor) = try makeConnectedPair()
        defer { dialer.close(); acceptor.close() }
        try acceptor.setReceiveTimeout(millis: 50)
        // The kernel rounds the timeout to its clock tick.
        #expect((50...70).contains(try #require(try acceptor.receiveTimeoutMillis())))
        var buffer = [UInt8](repeating: 0, count: 16)
        #expect(throws: SocketError.timedOut(operation: "receive")) { _ = try acceptor.receive(into: &buffer) }
        #expect(try acceptor.waitUntilReadable(timeoutMillis: 20) == false)
    }

    @Test("bytes sent arrive; shutdown of the writer is EOF (0 bytes) for the reader")
    func sendReceiveEOF() throws {
        let (dialer, acceptor) = try makeConnectedPair()
        defer { dialer.close(); acceptor.close() }
        try dialer.send(all: [1, 2, 3])
        try dialer.shutdown(.write)
        #expect(try acceptor.waitUntilReadable(timeoutMillis: testReceiveTimeoutMillis))
        var buffer = [UInt8](repeating: 0, count: 16)
        let count = try acceptor.receive(into: &buffer)
        #expect(Array(buffer.prefix(count)) == [1, 2, 3])
        #expect(try acceptor.receive(into: &buffer) == 0)
        #expect(try acceptor.remoteAddress.host == "127.0.0.1")
    }

    @Test("close is idempotent and later calls fail with .closed")
    func closeIsIdempotent() throws {
        let (dialer, acceptor) = try makeConnectedPair()
        defer { acceptor.close() }
        dialer.close()
        dialer.close()
        #expect(dialer.isClosed)
        #expect(throws: SocketError.closed) { try dialer.send(all: [1]) }
    }

    @Test("sending to a peer that has closed is an error, not a SIGPIPE death")
    func sendAfterPeerClosed() throws {
        let (dialer, acceptor) = try makeConnectedPair()
        defer { dialer.close() }
        acceptor.close()
        let chunk = [UInt8](repeating: 0, count: 64 * 1024)
        #expect(throws: SocketError.self) {
            for _ in 0..<64 { try dialer.send(all: chunk) }
        }
    }

    @Test("connecting to a port nobody listens on fails with the errno text")
    func connectRefused() throws {
        let (listener, port) = try makeListener()
        listener.close()
        #expect {
            _ = try Socket.connect(host: "127.0.0.1", port: port, timeoutMillis: 2_000)
        } throws: { error in
            "\(error)" == "connect to 127.0.0.1:\(port): Connection refused"
        }
    }

    @Test("send(all:) keeps going after partial writes and delivers every byte in order")
    func partialWritesAreLooped() throws {
        let (dialer, acceptor) = try makeConnectedPair()
        defer { dialer.close(); acceptor.close() }
        // A short send timeout makes the kernel return partial counts while a slow reader drains.
        try dialer.setSendTimeout(millis: 50)
        let payload = (0..<(8 * 1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 13) }
        let reader = PeerThread<[UInt8]>.start {
            var received: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 16 * 1024)
            for _ in 0..<100_000 {
                let count = try acceptor.receive(into: &chunk)
                if count == 0 { break }
                received += chunk[0..<count]
                usleep(500)
            }
            return received
        }
        try dialer.send(all: payload)
        try dialer.shutdown(.write)
        let received = try reader.join()
        #expect(received.count == payload.count)
        // A Bool, not the arrays: a failing #expect would render megabytes of elements.
        let isIntact = received == payload
        #expect(isIntact)
    }
}
