import Foundation
import Hashing
import Networking
import Synchronization
import Testing
import TrackerClient

/// A TLS server on a tracker's port presenting a certificate nobody pinned: it records whether
/// each connection finished the handshake and whether any application byte arrived.
final class ImpostorTracker: Sendable {
    private let listener: Socket
    let handshakesFailed = Atomic<Int>(0)
    let handshakesDone = Atomic<Int>(0)
    let applicationBytes = Atomic<Int>(0)
    private let isStopped = Atomic<Bool>(false)

    init(port: UInt16) throws {
        listener = try Socket.listen(host: "127.0.0.1", port: port)
        try listener.setReceiveTimeout(millis: 100)
        let context = try TLSContext(side: .server, identity: try TLSIdentity.makeEphemeral(commonName: "impostor"))
        let thread = Thread { [self] in
            while !isStopped.load(ordering: .relaxed) {
                guard let socket = try? listener.accept() else { continue }
                defer { socket.close() }
                guard let stream = try? TLSStream.handshake(socket: socket, context: context, verification: .anyCertificate,
                                                             deadline: .now + .seconds(2)) else {
                    handshakesFailed.wrappingAdd(1, ordering: .relaxed)
                    continue
                }
                handshakesDone.wrappingAdd(1, ordering: .relaxed)
                var buffer = [UInt8](repeating: 0, count: 4_096)
                let count = buffer.withUnsafeMutableBytes { (try? stream.receive(into: $0, deadline: .now + .seconds(1))) ?? 0 }
                applicationBytes.wrappingAdd(count, ordering: .relaxed)
            }
        }
        thread.start()
    }

    func stop() {
        isStopped.store(true, ordering: .relaxed)
        usleep(200_000)
        listener.close()
    }
}

@Suite("tracker-node over TLS: identities, pins, refusals", .serialized)
struct TLSProcessTests {
    @Test("--print-fingerprint makes the key pair (0600 in a 0700 folder) once, prints sha256:<hex> and exits 0")
    func printFingerprint() throws {
        let cluster = try ProcessCluster(size: 1, isPinned: false)
        defer { cluster.stop() }
        let data = cluster.dataDirectory(1)
        let arguments = ["--conf", cluster.confPath, "--id", "1", "--data-dir", data, "--print-fingerprint"]
        let first = try runTrackerNode(arguments)
        #expect(first.status == 0, "\(first.output)")
        let printed = first.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let fingerprint = try CertificateFingerprint.parse(printed)
        #expect(fingerprint == (try TLSIdentity.load(directory: data)).fingerprint)
        #expect(mode(of: data) == 0o700)
        #expect(mode(of: data + "/" + TLSIdentity.keyFileName) == 0o600)
        let second = try runTrackerNode(arguments)
        #expect(second.status == 0 && second.output.trimmingCharacters(in: .whitespacesAndNewlines) == printed, "the same identity is kept")
    }

    @Test("a tracker whose own line pins another certificate refuses to start, naming both")
    func ownPinMismatchRefused() throws {
        let cluster = try ProcessCluster(size: 1)
        defer { cluster.stop() }
        try FileManager.default.removeItem(atPath: cluster.dataDirectory(1) + "/" + TLSIdentity.keyFileName)
        try FileManager.default.removeItem(atPath: cluster.dataDirectory(1) + "/" + TLSIdentity.certificateFileName)
        let outcome = try runTrackerNode(timeoutSeconds: 5, ["--conf", cluster.confPath, "--id", "1", "--data-dir", cluster.dataDirectory(1)])
        #expect(outcome.status == 1)
        #expect(outcome.output.contains("tracker 1 pins \(cluster.fingerprints[1]!)"), "\(outcome.output)")
    }

    @Test("a connection announcing tracker 2 without tracker 2's pinned certificate is refused, even knowing cluster.key; with it, it is let in")
    func impostorRefusedByTrackers() throws {
        let cluster = try ProcessCluster()
        defer { cluster.stop() }
        try cluster.startAll()
        let client = try cluster.client()
        _ = try #require(try cluster.waitForLeader(using: client))
        #expect(cluster.log(1).contains("tracker identity") && cluster.log(1).contains(cluster.fingerprints[1]!.description))
        let key = Hex.decode(cluster.clusterKeyHex!)!
        let auth = HandshakeAuthenticator(mac: { HMACSHA256.authenticate(key: $0, message: $1) },
                                          randomBytes: { (try? SecureRandom.bytes(count: $0)) ?? [] })
        let impostor = try cluster.connectTLS(to: 1)
        #expect(throws: (any Error).self) {
            _ = try Handshake.perform(on: impostor, as: .dialer, role: .tracker, id: 2, key: key, auth: auth, expectedPeerID: 1)
            _ = try impostor.readFrame(deadline: .now + .seconds(3)) // the tracker closes the connection
        }
        #expect(waitUntil { cluster.log(1).contains("tracker refused: certificate not pinned") }, "\(cluster.log(1))")
        let genuine = try cluster.connectTLS(to: 1, identity: try TLSIdentity.load(directory: cluster.dataDirectory(2)))
        defer { genuine.close() }
        _ = try Handshake.perform(on: genuine, as: .dialer, role: .tracker, id: 2, key: key, auth: auth, expectedPeerID: 1)
    }

    @Test("a tracker or client reaching an impostor on a pinned address refuses it before sending anything")
    func impostorRefusedByDialers() throws {
        let cluster = try ProcessCluster()
        defer { cluster.stop() }
        try cluster.start(1)
        try cluster.start(2)
        let fake = try ImpostorTracker(port: cluster.ports[3]!)
        defer { fake.stop() }
        let client = try cluster.client(deadlineMillis: 3_000)
        let config = try cluster.config()
        let third = try #require(config.trackers.first { $0.id == 3 })
        #expect(throws: TrackerClientError.self) { _ = try client.askOnce(.clusterStatus, tracker: third) }
        do {
            _ = try client.askOnce(.clusterStatus, tracker: third)
        } catch {
            #expect("\(error)".contains("tracker 3 (127.0.0.1:\(cluster.ports[3]!)) presented certificate"), "\(error)")
        }
        #expect(waitUntil(timeoutMillis: 5_000) { fake.handshakesFailed.load(ordering: .relaxed) >= 4 }, "trackers 1 and 2 keep dialing and refusing")
        #expect(fake.handshakesDone.load(ordering: .relaxed) == 0)
        #expect(fake.applicationBytes.load(ordering: .relaxed) == 0)
        _ = try #require(try cluster.waitForLeader(using: client), "1 and 2 still elect a leader")
    }
}

/// Polls `condition` every 50 ms until it holds or `timeoutMillis` pass.
func waitUntil(timeoutMillis: Int = 5_000, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(Double(timeoutMillis) / 1000)
    while Date() < deadline {
        if condition() { return true }
        usleep(50_000)
    }
    return condition()
}
