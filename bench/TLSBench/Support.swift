import Foundation
import Glibc
import Networking
import Synchronization

/// Bytes in one frame's payload: a piece.
let frameBytes = 512 * 1024

/// CPU seconds (user + system) this thread has used.
func threadCPUSeconds() -> Double {
    var time = timespec()
    _ = clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// Runs `body` on a new thread; `join` waits for its result.
final class Worker<Value: Sendable>: Sendable {
    private let outcome = Mutex<Result<Value, any Error>?>(nil)
    private let finished = DispatchSemaphore(value: 0)

    init(_ body: @escaping @Sendable () throws -> Value) {
        let thread = Thread { [self] in
            let result = Result { try body() }
            outcome.withLock { $0 = result }
            finished.signal()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    func join() throws -> Value {
        finished.wait()
        return try outcome.withLock { $0! }.get()
    }
}

/// A connected loopback pair.
func connectedPair() throws -> (Socket, Socket) {
    let listener = try Socket.listen(host: "127.0.0.1", port: 0)
    defer { listener.close() }
    let dialer = try Socket.connect(host: "127.0.0.1", port: try listener.localPort, timeoutMillis: 5_000)
    return (dialer, try listener.accept())
}

struct Identities {
    let server: TLSIdentity
    let client: TLSIdentity
}

/// Both ends of one connection, as frames: plaintext when `suite` is nil.
func makeConnections(suite: String?, identities: Identities) throws -> (sender: FramedConnection, receiver: FramedConnection, cipher: String) {
    let (dialer, acceptor) = try connectedPair()
    guard let suite else { return (FramedConnection(socket: dialer), FramedConnection(socket: acceptor), "none (plaintext)") }
    let serverContext = try TLSContext(side: .server, identity: identities.server, cipherSuites: suite)
    let clientFingerprint = identities.client.fingerprint
    let server = Worker {
        try TLSStream.handshake(socket: acceptor, context: serverContext, verification: .pinned([clientFingerprint]), deadline: .now + .seconds(5))
    }
    let client = try TLSStream.handshake(
        socket: dialer, context: TLSContext(side: .client, identity: identities.client, cipherSuites: suite),
        verification: .pinned([identities.server.fingerprint]), deadline: .now + .seconds(5))
    return (FramedConnection(tls: client), FramedConnection(tls: try server.join()), client.cipherSuite)
}

struct Measurement {
    var seconds: Double
    var senderCPU: Double
    var receiverCPU: Double
}

/// Sends `frameCount` frames of 512 KiB and returns the wall time and each end's CPU time.
func measure(suite: String?, identities: Identities, frameCount: Int) throws -> (Measurement, String) {
    let (sender, receiver, cipher) = try makeConnections(suite: suite, identities: identities)
    defer { sender.close(); receiver.close() }
    let payload = (0..<frameBytes).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
    let count = frameCount
    let start = ContinuousClock.now
    let reading = Worker { () throws -> Double in
        let cpu = threadCPUSeconds()
        for _ in 0..<count {
            let frame = try receiver.readFrame()
            guard frame.payload.count == frameBytes else { throw FrameError.truncated }
        }
        return threadCPUSeconds() - cpu
    }
    let sendingCPU = threadCPUSeconds()
    for _ in 0..<count { try sender.writeFrame(Frame(type: 16, payload: payload)) }
    let senderCPU = threadCPUSeconds() - sendingCPU
    let receiverCPU = try reading.join()
    let elapsed = start.duration(to: .now).components
    let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
    return (Measurement(seconds: seconds, senderCPU: senderCPU, receiverCPU: receiverCPU), cipher)
}

/// Handshakes per second, sequential, client pinning the server and the server the client.
func handshakeRate(identities: Identities, count: Int) throws -> Double {
    guard count > 0 else { return 0 }
    let serverContext = try TLSContext(side: .server, identity: identities.server)
    let clientContext = try TLSContext(side: .client, identity: identities.client)
    let clientFingerprint = identities.client.fingerprint
    let start = ContinuousClock.now
    for _ in 0..<count {
        let (dialer, acceptor) = try connectedPair()
        let server = Worker {
            try TLSStream.handshake(socket: acceptor, context: serverContext, verification: .pinned([clientFingerprint]), deadline: .now + .seconds(5))
        }
        let client = try TLSStream.handshake(
            socket: dialer, context: clientContext, verification: .pinned([identities.server.fingerprint]), deadline: .now + .seconds(5))
        let accepted = try server.join()
        client.close()
        accepted.close()
    }
    let elapsed = start.duration(to: .now).components
    return Double(count) / (Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18)
}

