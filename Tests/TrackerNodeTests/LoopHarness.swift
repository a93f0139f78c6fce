import Foundation
import Networking
import Synchronization
import TrackerProtocol
import TrackerStateMachine
@testable import TrackerNode

/// A `ConnectionLoop` on a thread of its own, in this process, with a stand-in host: every
/// request is answered at once by `respond`. Lets the loop's rules be tested without Raft.
final class LoopHarness: @unchecked Sendable {
    // @unchecked: `loop` is touched only by the harness thread once `init` returns (and by
    // `init` before the thread starts); other threads read only `gauge`, `port` and atomics.
    private let loop: ConnectionLoop
    let port: UInt16
    let gauge: ConnectionGauge
    private let wake: WakeSignal
    private let isStopping = Atomic<Bool>(false)
    private let stopped = DispatchSemaphore(value: 0)
    /// Requests the stand-in host was handed.
    let requestCount = Atomic<Int>(0)

    init(limits: AddressAdmission.Limits = LoopHarness.limits(),
         deadlines: ConnectionDeadlines = ConnectionDeadlines(), tls: TLSContext? = nil,
         respond: @escaping @Sendable (ClientRequest) -> ClientResponse = { _ in .result(.ok(.done)) }) throws {
        let listener = try Socket.listen(host: "127.0.0.1", port: 0, backlog: ConnectionLimits.listenBacklog)
        port = try listener.localAddress.port
        wake = try WakeSignal()
        let inputs = BlockingQueue<Input>(capacity: 16, wake: wake)
        loop = try ConnectionLoop(listener: listener, wake: wake, selfID: 1, peerIDs: [1, 2, 3],
                                  security: PeerSecurity(key: nil, authenticator: forgerAuth), admission: limits,
                                  counters: ShellCounters(), restorer: SnapshotRestorer(inputs: inputs, limits: Limits()),
                                  deadlines: deadlines, tls: tls)
        gauge = loop.gauge
        let thread = Thread { [self] in run(respond) }
        thread.name = "loop-harness"
        thread.start()
    }

    static func limits(total: Int = 10_000, perAddress: Int = 10_000) -> AddressAdmission.Limits {
        AddressAdmission.Limits(connectionsMax: total, connectionsPerAddressMax: perAddress, passwordRequestsBurst: 1_000,
                                passwordRequestsPerSecond: 1_000, addressesTrackedMax: 1_024)
    }

    private func run(_ respond: @Sendable (ClientRequest) -> ClientResponse) {
        while !isStopping.load(ordering: .acquiring) {
            loop.serve(timeoutMillis: 20)
            for input in loop.takeIntake() {
                guard case let .request(request, target, _) = input else { continue }
                requestCount.add(1, ordering: .relaxed)
                loop.answer(target, respond(request))
            }
            loop.flushUnflushed()
        }
        loop.closeAll()
        stopped.signal()
    }

    /// Stops the loop; every socket it owns is closed when this returns.
    func stop() {
        isStopping.store(true, ordering: .releasing)
        wake.signal()
        _ = stopped.wait(timeout: .now() + 5)
    }

    /// Waits until `condition` holds, up to `seconds`; whether it did.
    func wait(seconds: Double, until condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }
}

/// Whether the other end closed `connection` within `millis` (EOF or reset on read).
func isClosedByPeer(_ connection: FramedConnection, withinMillis millis: Int) -> Bool {
    do {
        // Bounded: each pass reads a frame (the server sends none unasked here) or ends.
        for _ in 0..<1_000 {
            _ = try connection.readFrame(maxBytes: 1 << 20, deadline: .now + .milliseconds(millis))
        }
        return false
    } catch FrameError.closed, FrameError.truncated {
        return true
    } catch SocketError.timedOut {
        return false
    } catch {
        return true // reset
    }
}
