import Consensus
import TrackerHosting
import TrackerProtocol
import TrackerStateMachine

/// Everything that reaches the event loop from other threads.
enum Input: Sendable {
    /// A Raft message from an authenticated peer tracker; for a snapshot, its state already
    /// restored by the reader thread.
    case raft(Message, restored: TrackerStateMachine? = nil)
    /// A client's request and where to reply.
    case request(ClientRequest, ReplyTarget)
    /// A finished password job.
    case passwordDone(id: UInt64, outcome: PasswordOutcome)
    /// A snapshot the background writer made durable (nil: it failed).
    case snapshotWritten(Snapshot?)
    /// A `tracker-node member ...` request and where to reply.
    case admin(AdminRequest, ReplyTarget)
    /// Stop: a signal or `quit`.
    case shutdown(reason: String)
}
