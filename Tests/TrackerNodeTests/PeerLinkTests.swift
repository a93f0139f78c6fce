import Foundation
import Networking
import Synchronization
import Testing
@testable import TrackerNode

@Suite("peer link write-through", .serialized)
struct PeerLinkTests {
    @Test("frames written by the loop directly and by the link's thread (partial sends, a slow reader) arrive whole and in order")
    func orderKept() throws {
        let listener = try Socket.listen(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        let port = try listener.localAddress.port
        let dialed = try Socket.connect(host: "127.0.0.1", port: port, timeoutMillis: 1_000)
        let accepted = try listener.accept()
        defer { accepted.close() }
        let connection = FramedConnection(socket: dialed)
        defer { connection.close() }
        let link = PeerLink()
        link.attach(connection)
        let isDone = Atomic<Bool>(false)
        // The link's thread, as `PeerLinks.pump` runs it: blocking sends of the backlog.
        let pump = Worker<Void> {
            while !isDone.load(ordering: .acquiring) {
                for item in link.takeBacklog() {
                    if case let .bytes(bytes) = item { try connection.stream.send(all: bytes) }
                }
            }
        }
        let count = 400
        let reader = Worker<[UInt32]> {
            let incoming = FramedConnection(socket: accepted)
            var seen: [UInt32] = []
            for index in 0..<count {
                let frame = try incoming.readFrame(maxBytes: 1 << 20, deadline: .now + .seconds(10))
                guard frame.payload.count == 50_000 + index % 7, frame.payload.allSatisfy({ $0 == UInt8(index % 251) }) else {
                    throw RejectedFrame("frame \(index) damaged")
                }
                seen.append(UInt32(index))
                if index % 50 == 0 { usleep(20_000) } // slow now and then: the socket fills, sends go partial
            }
            return seen
        }
        for index in 0..<count {
            let payload = [UInt8](repeating: UInt8(index % 251), count: 50_000 + index % 7)
            link.send([.bytes(try Frame.encode([Frame(type: 16, payload: payload)]))])
            if index % 40 == 0 { usleep(5_000) }
        }
        let seen = try #require(try reader.join(seconds: 20)?.get())
        #expect(seen == (0..<count).map(UInt32.init))
        #expect(link.droppedCount == 0)
        isDone.store(true, ordering: .releasing)
        link.detach() // wakes the pump so it sees isDone
        _ = pump.join(seconds: 5)
    }
}
