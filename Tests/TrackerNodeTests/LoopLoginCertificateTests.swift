import Foundation
import Networking
import Testing
import TrackerProtocol
@testable import TrackerNode

/// A client of the loop over TLS, pinned to `pin`, presenting `identity` (none when nil), after
/// its hello.
private func tlsClient(port: UInt16, pin: CertificateFingerprint, identity: TLSIdentity?) throws -> FramedConnection {
    let socket = try Socket.connect(host: "127.0.0.1", port: port, timeoutMillis: 1_000)
    let stream = try TLSStream.handshake(socket: socket, context: try TLSContext(side: .client, identity: identity),
                                         verification: .pinned([pin]), deadline: .now + .seconds(5))
    let connection = FramedConnection(tls: stream)
    _ = try Handshake.perform(on: connection, as: .dialer, role: .client, id: 9, key: nil, auth: forgerAuth)
    return connection
}

/// Sends one request and returns its answer.
private func ask(_ connection: FramedConnection, _ operation: ServiceOperation, tag: UInt64) throws -> ClientResponse {
    try connection.writeFrame(requestFrame(operation, tag: tag))
    let (answered, response) = try decodeAnswer(try connection.readFrame(maxBytes: 1 << 20, deadline: .now + .seconds(5)))
    #expect(answered == tag)
    return response
}

private func login(naming digest: [UInt8]) -> ServiceOperation {
    .login(userID: "alice", password: "pw", peerAddress: "127.0.0.1:9000", certificateFingerprint: digest)
}

private func isCertificateRefusal(_ response: ClientResponse) -> Bool {
    guard case let .rejected(reason) = response else { return false }
    return reason.contains("certificate its connection presented")
}

@Suite("event loop logins over TLS", .serialized)
struct LoopLoginCertificateTests {
    @Test("over TLS a login reaches the host only naming the certificate its connection presented; without one, only logins are refused")
    func loginNamesPresentedCertificate() throws {
        let directory = NSTemporaryDirectory() + "loop-login-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try TLSIdentity.loadOrCreate(directory: directory, commonName: "tracker-1")
        let harness = try LoopHarness(tls: try TLSContext(side: .server, identity: server))
        defer { harness.stop() }
        let alice = try TLSIdentity.makeEphemeral(commonName: "alice")
        let other = try TLSIdentity.makeEphemeral(commonName: "other")

        let presenting = try tlsClient(port: harness.port, pin: server.fingerprint, identity: alice)
        defer { presenting.close() }
        #expect(try ask(presenting, login(naming: alice.fingerprint.digest), tag: 1) == .result(.ok(.done)))
        #expect(isCertificateRefusal(try ask(presenting, login(naming: other.fingerprint.digest), tag: 2)))
        #expect(isCertificateRefusal(try ask(presenting, login(naming: []), tag: 3)))

        let anonymous = try tlsClient(port: harness.port, pin: server.fingerprint, identity: nil)
        defer { anonymous.close() }
        #expect(try ask(anonymous, .clusterStatus, tag: 1) == .result(.ok(.done)), "a certificate is optional at the port")
        #expect(isCertificateRefusal(try ask(anonymous, login(naming: alice.fingerprint.digest), tag: 2)))
        #expect(harness.requestCount.load(ordering: .relaxed) == 2, "refused logins never reach the host")
    }

    @Test("in plaintext (--insecure) a login naming any certificate goes to the host")
    func plaintextLoginUnchecked() throws {
        let harness = try LoopHarness()
        defer { harness.stop() }
        let client = try rawClient(port: harness.port, from: "127.0.8.1")
        defer { client.close() }
        #expect(try ask(client, login(naming: [UInt8](repeating: 7, count: 32)), tag: 1) == .result(.ok(.done)))
    }
}
