import Dispatch
import Synchronization

/// One piece send at a time per user on a peer server, in arrival order: a downloader that
/// opens many connections (or keeps many requests in flight) gets one send's worth of the
/// uplink at a time, the same as a downloader with one connection, so it cannot starve the rest.
/// Different users never wait for each other here.
final class UserTurns: Sendable {
    private final class Gate: Sendable {
        let semaphore = DispatchSemaphore(value: 1)
    }

    private struct Entry {
        let gate: Gate
        var holders: Int
    }

    private let gates = Mutex<[String: Entry]>([:])

    /// Runs `body` while `userID` holds its turn, waiting for the user's earlier sends first.
    func withTurn<T>(of userID: String, _ body: () throws -> T) rethrows -> T {
        let gate = gates.withLock { all -> Gate in
            let entry = all[userID] ?? Entry(gate: Gate(), holders: 0)
            all[userID] = Entry(gate: entry.gate, holders: entry.holders + 1)
            return entry.gate
        }
        gate.semaphore.wait()
        defer {
            // Signalled before the gate may be dropped: a semaphore is never freed below its start value.
            gate.semaphore.signal()
            gates.withLock { all in
                guard let entry = all[userID] else { return }
                all[userID] = entry.holders <= 1 ? nil : Entry(gate: entry.gate, holders: entry.holders - 1)
            }
        }
        return try body()
    }

    /// Users holding or waiting for a turn now.
    var userCount: Int { gates.withLock { $0.count } }
}
