import Networking
import Synchronization

/// The event loop's input queue from other threads, in lanes. The control lane (password
/// results, snapshot results, peer links coming up, shutdown) is never dropped: its producers
/// are bounded by construction (the host admits a bounded number of password jobs, one
/// snapshot job runs at a time, one link per peer). The Raft lane is bounded: past
/// `raftCapacity` the oldest Raft message is dropped and counted (Raft resends what matters),
/// so a flood of Raft messages never touches a control input. Client requests do not come
/// through here: the loop reads them itself, and a connection whose window is full is simply
/// not read (see `ClientState`).
///
/// Many producers, one consumer. A push that makes the queue non-empty signals `wake`, which
/// the loop waits on in its `EventPoll` beside its sockets.
final class InputQueue: Sendable {
    private struct Lanes {
        var control: [Input] = []
        var raft: [Input] = []
        var raftHead = 0
        var droppedRaft: UInt64 = 0

        var isEmpty: Bool { control.isEmpty && raftHead == raft.count }
    }

    private let lanes = Mutex(Lanes())
    /// The Raft lane's bound.
    let raftCapacity: Int
    /// Signalled when the queue becomes non-empty.
    let wake: WakeSignal

    init(raftCapacity: Int = InputQueue.raftCapacityDefault, wake: WakeSignal) {
        self.raftCapacity = max(1, raftCapacity)
        self.wake = wake
    }

    /// Raft messages waiting at most, by default.
    static let raftCapacityDefault = 8_192

    /// Queues an input in its lane: `.raft` in the Raft lane, everything else in the control lane.
    func push(_ input: Input) {
        let wasEmpty = lanes.withLock { lanes in
            let wasEmpty = lanes.isEmpty
            if case .raft = input {
                lanes.raft.append(input)
                if lanes.raft.count - lanes.raftHead > raftCapacity {
                    lanes.raftHead += 1
                    lanes.droppedRaft &+= 1
                }
                if lanes.raftHead >= 1_024, 2 * lanes.raftHead >= lanes.raft.count {
                    lanes.raft.removeFirst(lanes.raftHead)
                    lanes.raftHead = 0
                }
            } else {
                lanes.control.append(input)
            }
            return wasEmpty
        }
        if wasEmpty { wake.signal() }
    }

    /// Everything queued: the control lane first, then the Raft lane, in arrival order within
    /// each. Never waits (the loop waits in its `EventPoll`).
    func drain() -> [Input] {
        lanes.withLock { lanes in
            var taken = lanes.control
            taken.append(contentsOf: lanes.raft[lanes.raftHead...])
            lanes.control.removeAll(keepingCapacity: true)
            lanes.raft.removeAll(keepingCapacity: true)
            lanes.raftHead = 0
            return taken
        }
    }

    /// Raft messages dropped because their lane was full, since start.
    var droppedRaftCount: UInt64 { lanes.withLock { $0.droppedRaft } }
}
