import Consensus
import TrackerHosting
import TrackerProtocol

/// Everything that can happen in a simulation, at one instant of virtual time.
enum EventKind: Sendable {
    /// A tracker's clock fires one tick.
    case tick(node: Int)
    /// A Raft message arrives at a tracker.
    case deliver(Message)
    /// A client's request arrives at a tracker.
    case request(node: Int, client: Int, attempt: UInt64, ClientRequest)
    /// A tracker's reply arrives at a client.
    case response(client: Int, attempt: UInt64, ClientResponse)
    /// A client's attempt fails at once: the tracker's process is gone, and its host answered
    /// the connection with a reset (as after kill -9).
    case refused(client: Int, attempt: UInt64)
    /// A client wakes: to start its next operation or to retry after a pause.
    case clientWake(client: Int, attempt: UInt64)
    /// A client gives up waiting for the answer to one attempt.
    case clientTimeout(client: Int, attempt: UInt64)
    /// Password work finishes on a tracker (`epoch` tells a restarted tracker's jobs apart).
    case passwordDone(node: Int, epoch: Int, jobID: UInt64, outcome: PasswordOutcome)
    /// A tracker's event loop takes its queued inputs and carries out its batches.
    case process(node: Int, epoch: Int)
    /// A tracker's background snapshot job finishes serializing and writes its file.
    indirect case snapshotJobDone(node: Int, epoch: Int, job: SnapshotJob)
    /// A tracker's restorer finished restoring a received snapshot.
    indirect case snapshotRestored(node: Int, epoch: Int, message: Message)
    /// A tracker shutting down cleanly checks whether it may exit (see `FaultKind.cleanRestart`).
    case cleanExit(node: Int, epoch: Int, deadlineMicros: UInt64)
    /// A crashed tracker starts again from its disk.
    case restart(node: Int, epoch: Int)
    /// A paused tracker resumes.
    case resume(node: Int, epoch: Int)
    /// One link comes back after a clog.
    case unclog(from: Int, to: Int)
    /// A tracker elected a moment ago is cut off from the others (and may crash).
    case cutNewLeader(node: Int, epoch: Int)
    /// The random fault injector acts.
    case injectFault
    /// A membership change is drawn (`isPeriodic`: the next one is scheduled).
    case membershipChange(isPeriodic: Bool)
    /// The membership ambush puts the old leader and one voter together (`joinAmbush`).
    case membershipAmbush(oldLeader: Int, voter: Int)
    /// Every fault ends; recovery checks start.
    case heal
    /// The leader-after-heal deadline.
    case checkLeaderAfterHeal
    /// The pending-commands-after-heal deadline.
    case checkPendingAfterHeal
    /// Records how far every replica must have applied by the end.
    case markConvergenceTarget
    /// Periodic whole-log checks.
    case checkLogs
}

/// One scheduled event's place in the heap: ordered by time, then by the order it was
/// scheduled; the event itself waits in a slot so the heap moves only small values.
struct Event: Sendable {
    var timeMicros: UInt64
    var sequence: UInt64
    var slot: Int

    func precedes(_ other: Event) -> Bool {
        timeMicros != other.timeMicros ? timeMicros < other.timeMicros : sequence < other.sequence
    }
}

/// A binary min-heap of events ordered by (time, insertion counter): ties keep scheduling order,
/// so the run never depends on anything but the seed.
struct EventQueue: Sendable {
    private var heap: [Event] = []
    private var slots: [EventKind?] = []
    private var freeSlots: [Int] = []
    private var nextSequence: UInt64 = 0

    /// Number of events waiting.
    var count: Int { heap.count }

    /// Time of the earliest event, if any.
    var nextTimeMicros: UInt64? { heap.first?.timeMicros }

    mutating func schedule(_ kind: EventKind, atMicros time: UInt64) {
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            slots[slot] = kind
        } else {
            slot = slots.count
            slots.append(kind)
        }
        heap.append(Event(timeMicros: time, sequence: nextSequence, slot: slot))
        nextSequence += 1
        siftUp(heap.count - 1)
    }

    /// Removes the earliest event and returns its time and what it is.
    mutating func popFirst() -> (timeMicros: UInt64, kind: EventKind)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let first = heap.removeLast()
        if !heap.isEmpty { siftDown(0) }
        let kind = slots[first.slot].take()!
        freeSlots.append(first.slot)
        return (first.timeMicros, kind)
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            var best = left
            if left + 1 < heap.count && heap[left + 1].precedes(heap[left]) { best = left + 1 }
            guard heap[best].precedes(heap[parent]) else { return }
            heap.swapAt(best, parent)
            parent = best
        }
    }
}
