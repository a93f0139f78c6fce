import Foundation
import Networking
import Testing

/// Moves every outgoing byte of each transport to the other until neither has any; returns
/// the plaintext each received.
private func pump(_ a: TLSTransport, _ b: TLSTransport) throws -> (atA: [UInt8], atB: [UInt8]) {
    var atA: [UInt8] = []
    var atB: [UInt8] = []
    for _ in 0..<64 {
        let fromA = a.takeOutgoing()
        let fromB = b.takeOutgoing()
        if fromA.isEmpty && fromB.isEmpty { break }
        if !fromA.isEmpty { atB += try b.receive(fromA[...]).plaintext }
        if !fromB.isEmpty { atA += try a.receive(fromB[...]).plaintext }
    }
    return (atA, atB)
}

@Suite("TLS transport for event loops")
struct TLSTransportTests {
    @Test("over an identity made in a temp dir: frames sealed before the handshake arrive after it, both ways, and a pinned client sees the server's fingerprint")
    func roundTrip() throws {
        let directory = makeTemporaryPath("tls-transport")
        defer { removeTree(directory) }
        let identity = try TLSIdentity.loadOrCreate(directory: directory, commonName: "tracker-1")
        let server = TLSTransport(session: try TLSSession(context: TLSContext(side: .server, identity: identity),
                                                          verification: .optionalCertificate))
        let client = TLSTransport(session: try TLSSession(context: TLSContext(side: .client, identity: nil),
                                                          verification: .pinned([identity.fingerprint])))
        let greeting = try Frame.encode([Frame(type: 1, payload: Array("hello".utf8))])
        try server.seal(greeting) // the acceptor's hello goes first, before TLS is up
        let first = try pump(client, server)
        #expect(server.isEstablished && client.isEstablished)
        #expect(client.peerFingerprint == identity.fingerprint && server.peerFingerprint == nil)
        #expect(first.atA == greeting)
        // Many frames at once, larger than one TLS record and than one BIO buffer.
        let frames = (0..<40).map { Frame(type: 17, payload: patternBytes(count: 5_000 + $0, seed: $0)) }
        let bytes = try Frame.encode(frames)
        try client.seal(bytes)
        var decoder = FrameDecoder()
        decoder.append(try pump(client, server).atB)
        var decoded: [Frame] = []
        while let frame = try decoder.nextFrame() { decoded.append(frame) }
        #expect(decoded == frames)
        #expect(!contains(client.takeOutgoing(), marker: Array("hello".utf8)))
    }

    @Test("the server never yields plaintext for bytes that are not TLS, and throws; close_notify ends the stream")
    func garbageAndClose() throws {
        let identity = try makeIdentity("tracker-2")
        let server = TLSTransport(session: try TLSSession(context: TLSContext(side: .server, identity: identity),
                                                          verification: .noCertificate))
        #expect(throws: TLSError.self) { _ = try server.receive(Array(repeating: 0x41, count: 300)[...]) }

        let other = TLSTransport(session: try TLSSession(context: TLSContext(side: .server, identity: identity),
                                                         verification: .noCertificate))
        let client = TLSTransport(session: try TLSSession(context: TLSContext(side: .client, identity: nil),
                                                          verification: .anyCertificate))
        _ = try pump(client, other)
        client.close()
        let received = try other.receive(client.takeOutgoing()[...])
        #expect(received.isClosed && received.plaintext.isEmpty)
    }

    @Test("a client pinned to another fingerprint fails the handshake instead of delivering plaintext")
    func wrongPin() throws {
        let identity = try makeIdentity("tracker-3")
        let stranger = try makeIdentity("stranger")
        let server = TLSTransport(session: try TLSSession(context: TLSContext(side: .server, identity: identity),
                                                          verification: .noCertificate))
        let client = TLSTransport(session: try TLSSession(context: TLSContext(side: .client, identity: nil),
                                                          verification: .pinned([stranger.fingerprint])))
        try server.seal(Array("secret".utf8))
        #expect(throws: TLSError.self) { _ = try pump(client, server) }
        #expect(!client.isEstablished)
    }
}
