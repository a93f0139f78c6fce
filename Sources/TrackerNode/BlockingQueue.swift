import Dispatch
import Networking
import Synchronization

/// A many-producer, one-consumer queue: producers `push`, the consumer `drain`s everything at
/// once, waiting up to a deadline. Bounded: past `capacity` the oldest items are dropped (fine
/// for Raft messages, which may be lost). The event loop's control lane is one of these with a
/// `wake` (the eventfd its `EventPoll` watches, so it never waits on the semaphore) and a
/// capacity its producers cannot reach, so nothing in it is ever dropped.
final class BlockingQueue<Item: Sendable>: Sendable {
    private let items = Mutex<[Item]>([])
    private let signal = DispatchSemaphore(value: 0)
    private let wake: WakeSignal?
    let capacity: Int

    init(capacity: Int, wake: WakeSignal? = nil) {
        self.capacity = capacity
        self.wake = wake
    }

    func push(_ item: Item) {
        push(contentsOf: [item])
    }

    func push(contentsOf items: [Item]) {
        guard !items.isEmpty else { return }
        let wasEmpty = self.items.withLock { queued in
            let wasEmpty = queued.isEmpty
            queued.append(contentsOf: items)
            if queued.count > capacity { queued.removeFirst(queued.count - capacity) }
            return wasEmpty
        }
        // Wake the consumer only when the queue becomes non-empty: one wake-up per batch, not
        // one per item (a stale wake-up costs one empty drain at most).
        if wasEmpty {
            signal.signal()
            wake?.signal()
        }
    }

    /// Everything queued, waiting up to `timeoutMillis` for the first item (nil waits forever).
    func drain(timeoutMillis: Int?) -> [Item] {
        let taken = takeAll()
        if !taken.isEmpty {
            clearStaleWakeUps()
            return taken
        }
        if let timeoutMillis {
            _ = signal.wait(timeout: .now() + .milliseconds(max(0, timeoutMillis)))
        } else {
            signal.wait()
        }
        defer { clearStaleWakeUps() }
        return takeAll()
    }

    /// Drops wake-ups for items already taken, so an idle consumer really sleeps. Safe: `drain`
    /// always looks at the items before it waits, so no item is left waiting for a wake-up.
    private func clearStaleWakeUps() {
        while signal.wait(timeout: .now()) == .success {}
    }

    private func takeAll() -> [Item] {
        items.withLock { queued in
            defer { queued.removeAll(keepingCapacity: true) }
            return queued
        }
    }
}
