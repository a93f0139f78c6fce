import Foundation
import Networking
import Synchronization
import Testing
import TrackerClient
import TrackerProtocol
import TrackerStateMachine

/// A plaintext stand-in for a leader that is slow with password work: it answers a login only
/// after `answerAfterMillis`, and only on the first connection (a client that reconnects never
/// gets it); it answers `cluster_status` with `statusRole`, or never when nil.
final class SlowPasswordTracker: Sendable {
    let listener: Socket
    let port: UInt16
    let statusRole: TrackerRole?
    let answerAfterMillis: UInt64
    let connections = Atomic<Int>(0)
    let probes = Atomic<Int>(0)

    init(statusRole: TrackerRole?, answerAfterMillis: UInt64) throws {
        listener = try Socket.listen(host: "127.0.0.1", port: 0)
        port = try listener.localPort
        self.statusRole = statusRole
        self.answerAfterMillis = answerAfterMillis
        let thread = Thread { [self] in
            while let socket = try? listener.accept() {
                let number = connections.add(1, ordering: .relaxed).newValue
                Thread { [self] in serve(FramedConnection(socket: socket), answersLogin: number == 1) }.start()
            }
        }
        thread.start()
    }

    var config: ClusterConfig {
        get throws { try ClusterConfig.parse(text: "1 127.0.0.1:\(port)\n", fileName: "test.conf") }
    }

    func stop() {
        try? listener.shutdown()
        listener.close()
    }

    private func serve(_ connection: FramedConnection, answersLogin: Bool) {
        defer { connection.close() }
        guard (try? Handshake.perform(on: connection, as: .acceptor, role: .tracker, id: 1, key: nil, auth: .libcrypto)) != nil else { return }
        var login: (tag: UInt64, token: [UInt8], since: ContinuousClock.Instant)?
        while true {
            if let pending = login, answersLogin, ContinuousClock.now - pending.since >= .milliseconds(Int(answerAfterMillis)) {
                let session = SessionInfo(userID: "u", peerAddress: "127.0.0.1:1", leaseExpiryMillis: 1)
                guard write(.loggedIn(token: pending.token, session: session), tag: pending.tag, on: connection) else { return }
                login = nil
            }
            let frame: Frame
            do {
                frame = try connection.readFrame(deadline: .now + .milliseconds(20))
            } catch SocketError.timedOut {
                continue
            } catch {
                return
            }
            guard let (tag, body) = try? ServiceFrame.untagged(frame.payload), let request = try? ServiceCodec.decodeRequest(body) else { return }
            switch request.operation {
            case .login: login = (tag, request.token, login?.since ?? .now)
            case .clusterStatus:
                probes.add(1, ordering: .relaxed)
                guard let statusRole else { continue }
                let status = TrackerStatus(id: 1, role: statusRole, term: 1, leader: statusRole == .leader ? 1 : 0, commitIndex: 0,
                                           appliedIndex: 0, lastIndex: 0, followerMatch: [])
                guard write(.status(status), tag: tag, on: connection) else { return }
            default: return
            }
        }
    }

    private func write(_ response: ClientResponse, tag: UInt64, on connection: FramedConnection) -> Bool {
        let frame = Frame(type: ServiceFrame.response, payload: ServiceFrame.tagged(tag, ServiceCodec.encode(response)))
        return (try? connection.writeFrame(frame)) != nil
    }
}

@Suite("Password work waits on its connection while the tracker leads", .serialized)
struct PasswordWaitTests {
    func client(_ tracker: SlowPasswordTracker, deadlineMillis: Int) throws -> TrackerClient {
        var timing = TrackerClient.Timing()
        timing.attemptTimeoutMillis = 200
        timing.callDeadlineMillis = deadlineMillis
        timing.policy.passwordCallDeadlineMillis = UInt64(deadlineMillis)
        return try TrackerClient(cluster: try tracker.config, timing: timing)
    }

    @Test("a login answered after many attempt timeouts arrives on the first connection, the tracker probed meanwhile")
    func waitsWhileLeaderAnswers() throws {
        let tracker = try SlowPasswordTracker(statusRole: .leader, answerAfterMillis: 1_500)
        defer { tracker.stop() }
        let client = try client(tracker, deadlineMillis: 5_000)
        defer { client.close() }
        let answer = try client.call(.login(userID: "u", password: "p", peerAddress: "127.0.0.1:1"))
        guard case .loggedIn = answer else { return #expect(Bool(false), "answer \(answer)") }
        #expect(tracker.connections.load(ordering: .relaxed) == 1)
        #expect(tracker.probes.load(ordering: .relaxed) >= 3)
    }

    @Test("a tracker that stops answering its status is left after the attempt timeout, as before")
    func silentTrackerIsLeft() throws {
        let tracker = try SlowPasswordTracker(statusRole: nil, answerAfterMillis: 1_500)
        defer { tracker.stop() }
        let client = try client(tracker, deadlineMillis: 5_000)
        defer { client.close() }
        let answer = try? client.call(.login(userID: "u", password: "p", peerAddress: "127.0.0.1:1"))
        #expect(answer == nil, "only the first connection is answered, and the client left it")
        #expect(tracker.connections.load(ordering: .relaxed) > 1)
    }

    @Test("a tracker whose status says it no longer leads is left at once")
    func deposedTrackerIsLeft() throws {
        let tracker = try SlowPasswordTracker(statusRole: .follower, answerAfterMillis: 1_500)
        defer { tracker.stop() }
        let client = try client(tracker, deadlineMillis: 1_000)
        defer { client.close() }
        let answer = try? client.call(.login(userID: "u", password: "p", peerAddress: "127.0.0.1:1"))
        #expect(answer == nil)
        #expect(tracker.connections.load(ordering: .relaxed) > 1, "it reconnected after the first probe")
    }
}
