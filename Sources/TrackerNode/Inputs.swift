import Consensus
import TrackerHosting
import TrackerStateMachine

/// What reaches the event loop from other threads: its control lane, never dropped (client
/// requests and most Raft messages it reads from its own sockets).
enum Input: Sendable {
    /// A snapshot a peer tracker sent, its state restored by the `SnapshotRestorer` thread.
    case raft(Message, restored: TrackerStateMachine? = nil)
    /// A finished password job.
    case passwordDone(id: UInt64, outcome: PasswordOutcome)
    /// A snapshot the background writer made durable (nil: it failed).
    case snapshotWritten(Snapshot?)
    /// Stop: a signal or `quit`.
    case shutdown(reason: String)
}
