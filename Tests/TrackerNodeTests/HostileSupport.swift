import Consensus
import Foundation
import Networking
import Synchronization
import Testing
import TrackerClient
import TrackerProtocol

/// A handshake authenticator with no real cryptography: a client needs none, and a forger has
/// no key to compute a real proof with.
let forgerAuth = HandshakeAuthenticator(mac: { _, _ in [UInt8](repeating: 1, count: 32) },
                                        randomBytes: { count in (0..<count).map { _ in UInt8.random(in: 0...255) } })

/// A raw client connection to `port`, from the loopback address `from`, handshaken as a client.
func rawClient(port: UInt16, from localHost: String, id: UInt64 = 4242) throws -> FramedConnection {
    let socket = try Socket.connect(host: "127.0.0.1", port: port, timeoutMillis: 1_000, localHost: localHost)
    let connection = FramedConnection(socket: socket)
    _ = try Handshake.perform(on: connection, as: .dialer, role: .client, id: id, key: nil, auth: forgerAuth)
    return connection
}

/// The wire frame of one request with reply tag `tag`.
func requestFrame(_ operation: ServiceOperation, tag: UInt64, clientID: UInt64 = 4242, token: [UInt8] = []) -> Frame {
    let request = ClientRequest(clientID: clientID, sequence: tag, token: token, operation: operation)
    return Frame(type: ServiceFrame.request, payload: ServiceFrame.tagged(tag, ServiceCodec.encode(request)))
}

/// The tag and answer of a response frame.
func decodeAnswer(_ frame: Frame) throws -> (tag: UInt64, response: ClientResponse) {
    let (tag, body) = try ServiceFrame.untagged(frame.payload)
    return (tag, try ServiceCodec.decodeResponse(body))
}

/// Runs `body` on a thread of its own (blocking socket work never runs on the test's pool).
final class Worker<Value: Sendable>: Sendable {
    private let outcome = Mutex<Result<Value, any Error>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(_ body: @escaping @Sendable () throws -> Value) {
        let thread = Thread { [self] in
            let result = Result { try body() }
            outcome.withLock { $0 = result }
            done.signal()
        }
        thread.start()
    }

    /// The result, or nil when it has not finished within `seconds`.
    func join(seconds: Double = 30) -> Result<Value, any Error>? {
        guard done.wait(timeout: .now() + seconds) == .success else { return nil }
        return outcome.withLock { $0 }
    }
}

/// Milliseconds since `start`.
func millis(since start: Date) -> Int { Int(Date().timeIntervalSince(start) * 1000) }

/// Raises this test process's descriptor limit to its hard limit (the hostile cases hold
/// over a thousand sockets).
func raiseOwnDescriptorLimit() {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}

extension ProcessCluster {
    /// Creates `count` groups as a new user; returns their names (acknowledged writes).
    func acknowledgedGroups(_ count: Int, prefix: String) throws -> [String] {
        let client = try self.client()
        defer { client.close() }
        let token = try session(client, user: "owner-\(prefix)")
        var names: [String] = []
        for i in 0..<count {
            #expect(try createGroup(client, token, "\(prefix)\(i)") == .result(.ok(.done)))
            names.append("\(prefix)\(i)")
        }
        return names
    }

    /// After an attack: a fresh client creates a user, logs in, creates a group and lists the
    /// groups within 5 s; every tracker in `running` still runs; every group in `acknowledged`
    /// is listed.
    func expectHealthy(acknowledged: [String], running: [NodeID]? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let start = Date()
        let client = try self.client(deadlineMillis: 5_000)
        defer { client.close() }
        let user = "healthy\(UInt32.random(in: 0...UInt32.max))"
        let token = try session(client, user: user)
        #expect(try createGroup(client, token, "after-\(user)") == .result(.ok(.done)), sourceLocation: sourceLocation)
        let listed = Set(try groupIDs(client, token))
        let took = millis(since: start)
        #expect(took < 5_000, "create and list took \(took) ms", sourceLocation: sourceLocation)
        #expect(listed.isSuperset(of: acknowledged + ["after-\(user)"]), "lost: \(Set(acknowledged).subtracting(listed).sorted())",
                sourceLocation: sourceLocation)
        for id in running ?? ids {
            #expect(isRunning(id), "tracker \(id) is not running:\n\(log(id).suffix(1_500))", sourceLocation: sourceLocation)
        }
    }

    /// The status of tracker `id` as it answers now.
    func status(of id: NodeID, using client: TrackerClient) throws -> TrackerStatus? {
        try statuses(using: client).first { $0.id == id }
    }
}
