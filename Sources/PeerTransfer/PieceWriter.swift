import Foundation
import Hashing
import Synchronization

/// The one thread that writes a download's verified pieces to its file and feeds the
/// whole-file SHA-1 in order. One writer per file keeps peer threads from contending for the
/// file's inode lock; pieces that arrive in order are hashed from memory, the others are read
/// back from the file once the prefix reaches them.
final class PieceWriter: Sendable {
    private struct State {
        var queue: [(index: Int, bytes: [UInt8])] = []
        var written: [Bool]
        var digest: [UInt8]?
        var failure: String?
        var isStopped = false
    }

    private let file: PieceFile
    private let sizeBytes: UInt64
    private let state: Mutex<State>
    private let itemReady = DispatchSemaphore(value: 0)
    private let room = DispatchSemaphore(value: TransferLimits.writerQueuePieces)
    private let onWritten: @Sendable (Int) -> Void

    /// A writer for `file`, of which the pieces flagged in `written` are already on disk.
    init(file: PieceFile, sizeBytes: UInt64, written: [Bool], onWritten: @escaping @Sendable (Int) -> Void) {
        self.file = file
        self.sizeBytes = sizeBytes
        state = Mutex(State(written: written))
        self.onWritten = onWritten
    }

    /// Starts the thread.
    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "download-writer"
        thread.start()
    }

    /// Queues a verified piece; waits while `writerQueuePieces` pieces are already queued.
    func enqueue(index: Int, bytes: [UInt8]) {
        while room.wait(timeout: .now() + .milliseconds(100)) == .timedOut {
            if state.withLock({ $0.isStopped }) { return }
        }
        let isStopped = state.withLock { s -> Bool in
            if !s.isStopped { s.queue.append((index, bytes)) }
            return s.isStopped
        }
        // Every permit taken is given back (libdispatch traps when a semaphore is freed below
        // its initial value): by the writer after writing, or here when nothing was queued.
        if isStopped { room.signal() } else { itemReady.signal() }
    }

    /// The whole file's SHA-1 once every piece is written and hashed.
    var digest: [UInt8]? { state.withLock { $0.digest } }
    /// Why writing failed, if it did.
    var failure: String? { state.withLock { $0.failure } }

    /// Ends the thread early.
    func stop() {
        state.withLock { $0.isStopped = true }
        itemReady.signal()
    }

    private func run() {
        var hasher = SHA1()
        var nextToHash = 0
        var held: [Int: [UInt8]] = [:]
        var isStopped = false
        let pieceCount = state.withLock { $0.written.count }
        do {
            while nextToHash < pieceCount {
                try hashWrittenPrefix(&hasher, next: &nextToHash, held: &held)
                if nextToHash == pieceCount { break }
                _ = itemReady.wait(timeout: .now() + .milliseconds(100))
                let (items, stopped) = state.withLock { s in
                    defer { s.queue.removeAll(keepingCapacity: true) }
                    return (s.queue, s.isStopped)
                }
                // The drained batch leaves the queue now: give its permits back at once
                // (at most two queues' worth of pieces are ever held here).
                for _ in items { room.signal() }
                if stopped { isStopped = true; break }
                for item in items {
                    try file.write(item.bytes, at: UInt64(item.index) * UInt64(TransferLimits.pieceSizeBytes))
                    state.withLock { $0.written[item.index] = true }
                    if item.index < nextToHash + TransferLimits.writerHeldPieces { held[item.index] = item.bytes }
                    onWritten(item.index)
                }
            }
            if !isStopped {
                let result = hasher.finalize()
                state.withLock { $0.digest = result }
            }
        } catch {
            state.withLock { $0.failure = "\(error)" }
        }
        releaseQueued()
        onWritten(-1)
    }

    /// Stops taking pieces and gives back the permits of any still queued.
    private func releaseQueued() {
        let dropped = state.withLock { s -> Int in
            s.isStopped = true
            defer { s.queue.removeAll() }
            return s.queue.count
        }
        for _ in 0..<dropped { room.signal() }
    }

    /// Feeds the hash every written piece that follows the hashed prefix: from memory when it
    /// is held, else read back from the file.
    private func hashWrittenPrefix(_ hasher: inout SHA1, next: inout Int, held: inout [Int: [UInt8]]) throws {
        // One flag at a time under the lock: the whole array is not copied for every batch.
        let pieceCount = state.withLock { $0.written.count }
        while next < pieceCount && state.withLock({ $0.written[next] }) {
            if let bytes = held.removeValue(forKey: next) {
                hasher.update(bytes)
            } else {
                let offset = UInt64(next) * UInt64(TransferLimits.pieceSizeBytes)
                let length = Int(min(UInt64(TransferLimits.pieceSizeBytes), sizeBytes - offset))
                hasher.update(try file.read(count: length, at: offset))
            }
            next += 1
        }
        held = held.filter { $0.key >= next }
    }
}

