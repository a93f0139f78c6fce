import Foundation
import Networking
import Synchronization

/// Every blocking receive in these tests gives up after this long, so no test can hang.
let testReceiveTimeoutMillis = 5_000
/// How long a test waits for its peer thread before failing.
let testJoinTimeoutSeconds = 20.0

/// The test failed to finish in bounded time.
struct TestTimeout: Error, CustomStringConvertible {
    var description: String { "peer thread did not finish in time" }
}

/// Runs blocking socket work on its own thread (never on the cooperative pool) and hands the
/// outcome back through `join`.
final class PeerThread<Value: Sendable>: Sendable {
    private let outcome = Mutex<Result<Value, any Error>?>(nil)
    private let finished = DispatchSemaphore(value: 0)

    private init() {}

    static func start(_ body: @escaping @Sendable () throws -> Value) -> PeerThread<Value> {
        let peer = PeerThread<Value>()
        let thread = Thread {
            let result = Result { try body() }
            peer.outcome.withLock { $0 = result }
            peer.finished.signal()
        }
        thread.start()
        return peer
    }

    /// The body's result, or its error; `TestTimeout` if it has not finished in time.
    func join() throws -> Value {
        guard finished.wait(timeout: .now() + testJoinTimeoutSeconds) == .success else { throw TestTimeout() }
        return try outcome.withLock { $0! }.get()
    }

    /// The body's error, or nil when it succeeded.
    func joinError() throws -> (any Error)? {
        guard finished.wait(timeout: .now() + testJoinTimeoutSeconds) == .success else { throw TestTimeout() }
        return outcome.withLock { outcome -> (any Error)? in
            if case .failure(let error) = outcome! { return error }
            return nil
        }
    }
}

/// A listener on 127.0.0.1 with a kernel-chosen port and a bounded accept.
func makeListener() throws -> (socket: Socket, port: UInt16) {
    let listener = try Socket.listen(host: "127.0.0.1", port: 0)
    try listener.setReceiveTimeout(millis: testReceiveTimeoutMillis)
    return (listener, try listener.localPort)
}

/// A connected loopback pair, both ends with bounded receives. The listener is closed.
func makeConnectedPair() throws -> (dialer: Socket, acceptor: Socket) {
    let (listener, port) = try makeListener()
    defer { listener.close() }
    let dialer = try Socket.connect(host: "127.0.0.1", port: port, timeoutMillis: testReceiveTimeoutMillis)
    let acceptor = try listener.accept()
    try dialer.setReceiveTimeout(millis: testReceiveTimeoutMillis)
    try acceptor.setReceiveTimeout(millis: testReceiveTimeoutMillis)
    return (dialer, acceptor)
}

/// TEST ONLY — NOT CRYPTOGRAPHY. A deterministic stand-in for HMAC-SHA256 and secure random
/// bytes, so handshake tests run without libcrypto. It mixes key and message with FNV-1a so
/// that different keys give different 32-byte outputs; it offers no security whatsoever.
enum TestOnlyInsecureAuthenticator {
    /// An authenticator whose nonces come from a counter seeded with `seed` (use a different
    /// seed per side so the two nonces differ).
    static func make(seed: UInt64) -> HandshakeAuthenticator {
        let counter = Atomic<UInt64>(0)
        let box = CounterBox(counter: counter)
        return HandshakeAuthenticator(
            mac: { key, message in fakeMAC(key: key, message: message) },
            randomBytes: { count in
                let step = box.next()
                return (0..<count).map { UInt8(truncatingIfNeeded: (seed &* 31 &+ step) >> UInt64($0 % 8 * 8) &+ UInt64($0)) }
            }
        )
    }

    static func fakeMAC(key: [UInt8], message: [UInt8]) -> [UInt8] {
        (0..<NetworkingLimits.proofBytes).map { index in
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325 &+ UInt64(index)
            for byte in key + [0xFF] + message {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
            }
            return UInt8(truncatingIfNeeded: hash >> 24)
        }
    }
}

/// Holds a counter so an escaping `@Sendable` closure can share it.
final class CounterBox: Sendable {
    private let counter: Atomic<UInt64>
    init(counter: consuming Atomic<UInt64>) { self.counter = counter }
    func next() -> UInt64 { counter.add(1, ordering: .relaxed).newValue }
}
