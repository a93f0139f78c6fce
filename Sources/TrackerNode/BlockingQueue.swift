import Dispatch
import Synchronization

/// A many-producer, one-consumer queue: producers `push`, the consumer `drain`s everything at
/// once, waiting up to a deadline. Bounded: past `capacity` the oldest items are dropped and
/// counted (fine for Raft messages, which may be lost; inputs use a large bound).
final class BlockingQueue<Item: Sendable>: Sendable {
    private struct State {
        var items: [Item] = []
        var droppedCount = 0
    }

    private let state = Mutex(State())
    private let signal = DispatchSemaphore(value: 0)
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    func push(_ item: Item) {
        push(contentsOf: [item])
    }

    func push(contentsOf items: [Item]) {
        guard !items.isEmpty else { return }
        let wasEmpty = state.withLock { s in
            let wasEmpty = s.items.isEmpty
            s.items.append(contentsOf: items)
            if s.items.count > capacity {
                let excess = s.items.count - capacity
                s.items.removeFirst(excess)
                s.droppedCount += excess
            }
            return wasEmpty
        }
        // Wake the consumer only when the queue becomes non-empty: one wake-up per batch, not
        // one per item (a stale wake-up costs one empty drain at most).
        if wasEmpty { signal.signal() }
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

    /// How many items were dropped for lack of room, since the last call.
    func takeDroppedCount() -> Int {
        state.withLock { s in
            defer { s.droppedCount = 0 }
            return s.droppedCount
        }
    }

    private func takeAll() -> [Item] {
        state.withLock { s in
            defer { s.items.removeAll(keepingCapacity: true) }
            return s.items
        }
    }
}
