import Foundation
import Networking
import Testing
import TrackerProtocol

/// A raw client connection to a tracker that may still be starting: retried for up to 5 s.
func rawClientWhenUp(port: UInt16) throws -> FramedConnection {
    let deadline = Date().addingTimeInterval(5)
    while true {
        do {
            return try rawClient(port: port, from: "127.0.0.1")
        } catch {
            guard Date() < deadline else { throw error }
            usleep(50_000)
        }
    }
}

@Suite("tracker-node and clients of another build", .serialized)
struct WireVersionTests {
    @Test("a request of the previous format is answered with a refusal naming both formats, not a closed connection")
    func previousRequestFormatRefused() throws {
        let cluster = try ProcessCluster(extraArguments: ["--insecure"]) // raw frames: the layer TLS carries, in plaintext to reach it; the launcher made a cluster key
        defer { cluster.stop() }
        try cluster.start(1) // any tracker answers this, leader or not
        let connection = try rawClientWhenUp(port: cluster.ports[1]!)
        defer { connection.close() }
        var old = ServiceCodec.encode(ClientRequest(clientID: 4242, sequence: 1, operation: .clusterStatus))
        old[0] = 1
        try connection.writeFrame(Frame(type: ServiceFrame.request, payload: ServiceFrame.tagged(7, old)))
        let refused = try decodeAnswer(try connection.readFrame(maxBytes: 1 << 16, deadline: .now + .seconds(5)))
        #expect(refused.tag == 7)
        #expect(refused.response == .rejected(reason: "request format 1 is not supported (this tracker speaks 2): upgrade the client"))
        // The same connection still serves a request of the current format.
        try connection.writeFrame(requestFrame(.clusterStatus, tag: 8))
        let answered = try decodeAnswer(try connection.readFrame(maxBytes: 1 << 16, deadline: .now + .seconds(5)))
        #expect(answered.tag == 8)
        guard case let .status(status) = answered.response else {
            Issue.record("expected a status, got \(answered.response)")
            return
        }
        #expect(status.id == 1)
    }
}
