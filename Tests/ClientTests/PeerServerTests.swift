import Foundation
import Networking
import PeerTransfer
import Synchronization
import Testing
import TrackerStateMachine

/// A `PeerServer` in this process on a loopback port, with an authorizer that knows one member.
final class ServerUnderTest: Sendable {
    let server: PeerServer
    let directory: String
    let log = LogLines()

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("peer-server-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = try makeRandomFile(in: directory, name: "f.bin", byteCount: 1 << 20)
        let registry = ShareRegistry()
        registry.add(Share(groupID: "g", fileName: "f.bin", path: path, sizeBytes: 1 << 20, pieces: PieceBitfield.complete(pieceCount: 2)))
        let log = self.log
        server = try PeerServer(host: "127.0.0.1", port: 0, registry: registry, log: { log.append($0) }) { peer in
            peer.userID == "bob" ? nil : "not an online member of the group"
        }
        server.start()
    }

    /// Log lines naming `cause`.
    func lines(cause: RefusalCause) -> [String] { log.all.filter { $0.contains("cause=\(cause.rawValue) ") } }

    func stop() {
        server.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Lines a component logged.
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

/// A connection that completed the piece handshake and then says nothing.
func handshakenIdleConnection(port: UInt16) throws -> Socket {
    let socket = try Socket.connect(host: "127.0.0.1", port: port, timeoutMillis: 2_000)
    _ = try Handshake.perform(on: FramedConnection(socket: socket), as: .dialer, role: .piecePeer, id: 1, key: nil,
                              auth: PeerHandshake.authenticator)
    return socket
}

/// Starts sending a hello frame that never ends (length 200, type hello, then zeros) on each of
/// `sockets`, one byte every `intervalMillis` for `totalMillis`: no receive timeout ever fires
/// on the server, only its deadline ends these connections.
func startDripping(_ sockets: [Socket], intervalMillis: Int = 300, totalMillis: Int = 10_000) {
    let thread = Thread {
        let bytes: [UInt8] = [0, 0, 0, 200, 1] + [UInt8](repeating: 0, count: 200)
        for byte in bytes.prefix(totalMillis / intervalMillis) {
            for socket in sockets { try? socket.send(all: [byte]) }
            usleep(UInt32(intervalMillis * 1_000))
        }
    }
    thread.start()
}

/// Waits until the server ends `socket` (EOF or reset); returns how long that took from
/// `openedMillis`, or nil when it was still open after `timeoutMillis`.
func millisUntilClosed(_ socket: Socket, openedMillis: UInt64, timeoutMillis: Int) -> UInt64? {
    try? socket.setReceiveTimeout(millis: timeoutMillis)
    var buffer = [UInt8](repeating: 0, count: 4_096)
    while true {
        do {
            if try socket.receive(into: &buffer) == 0 { break }
        } catch SocketError.timedOut {
            return nil
        } catch {
            break
        }
    }
    return millis(from: openedMillis, to: monotonicNowMillis())
}

@Suite("peer server in process", .serialized)
struct PeerServerTests {
    @Test("a flood of unauthenticated connections takes no upload slot: a member is served at once, the flood closed by the deadline")
    func floodNeverTakesSlots() throws {
        let s = try ServerUnderTest()
        defer { s.stop() }
        var flood: [(Socket, UInt64)] = []
        for index in 0..<64 {
            let opened = monotonicNowMillis()
            flood.append((index < 30 ? try handshakenIdleConnection(port: s.server.port)
                                     : try Socket.connect(host: "127.0.0.1", port: s.server.port, timeoutMillis: 2_000), opened))
        }
        defer { for (socket, _) in flood { socket.close() } }
        startDripping(flood.suffix(4).map(\.0))  // the last ones stay: they drip, slower than any timeout
        let started = monotonicNowMillis()
        let member = try PeerConnection.open(port: s.server.port, userID: "bob", groupID: "g")
        #expect(member.answer == .opened)
        guard case .bitfield = try member.wire.subscribe("f.bin") else {
            Issue.record("the member got no bitfield")
            return
        }
        try member.wire.send(.request(groupID: "g", fileName: "f.bin", index: 1))
        guard case let .piece(index, bytes) = try member.wire.receiveAnswer() else {
            Issue.record("the member was not served")
            return
        }
        #expect(index == 1 && bytes.count == TransferLimits.pieceSizeBytes)
        #expect(millis(from: started, to: monotonicNowMillis()) < UInt64(TransferLimits.authenticationDeadlineMillis),
                "served before any flood connection reached its deadline")
        #expect(s.server.connectionCounts.serving == 1)
        #expect(s.server.connectionCounts.unauthenticated <= TransferLimits.unauthenticatedPerHostMax)
        let bound = UInt64(TransferLimits.authenticationDeadlineMillis + 1_500)
        for (socket, opened) in flood {
            let closedAfter = millisUntilClosed(socket, openedMillis: opened, timeoutMillis: Int(bound) + 2_000)
            #expect(closedAfter.map { $0 <= bound } == true, "a flood connection was closed after \(String(describing: closedAfter)) ms")
        }
        #expect(s.lines(cause: .hostUnauthenticatedCap).count == 1, "logged once, however many: \(s.log.all)")
        // The line is written just after the sockets are shut down: give it a moment.
        #expect(waitUntil(timeoutMillis: 2_000) { !s.lines(cause: .deadline).isEmpty })
        #expect(s.lines(cause: .deadline).count == 1, "\(s.log.all)")
        try member.wire.send(.request(groupID: "g", fileName: "f.bin", index: 0))
        guard case .piece = try member.wire.receiveAnswer() else {
            Issue.record("the member's connection did not survive the deadline")
            return
        }
    }

    @Test("an open with control characters is refused, logged once with the text escaped, and never asks the tracker")
    func badOpenIsEscapedAndRateLimited() throws {
        let s = try ServerUnderTest()
        defer { s.stop() }
        for _ in 0..<3 {
            let refused = try PeerConnection.open(port: s.server.port, userID: "ev\nil\u{1b}[2J", groupID: "g")
            guard case let .reject(reason) = refused.answer else {
                Issue.record("a bad open was served: \(refused.answer)")
                return
            }
            #expect(reason.contains("control character"))
        }
        let refusedMember = try PeerConnection.open(port: s.server.port, userID: "mallory", groupID: "g")
        #expect(refusedMember.answer == .reject(reason: "not an online member of the group"))
        #expect(waitUntil(timeoutMillis: 2_000) { s.lines(cause: .notAuthorized).count == 1 })
        let bad = s.lines(cause: .badOpen)
        #expect(bad.count == 1, "three refusals, one line: \(bad)")
        let all = s.log.all
        #expect(!all.contains { $0.unicodeScalars.contains { $0.value < 0x20 } }, "no raw control character: \(all)")
        #expect(bad.first?.contains("\\n") == true && bad.first?.contains("\\u{1b}") == true, "\(bad)")
    }
}
