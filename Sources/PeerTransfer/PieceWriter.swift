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
        state.withLock { $0.queue.append((index, bytes)) }
        itemReady.signal()
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
        let pieceCount = state.withLock { $0.written.count }
        do {
            while nextToHash < pieceCount || pieceCount == 0 {
                if pieceCount == 0 { break }
                try hashWrittenPrefix(&hasher, next: &nextToHash, held: &held)
                if nextToHash == pieceCount { break }
                _ = itemReady.wait(timeout: .now() + .milliseconds(100))
                let (items, isStopped) = state.withLock { s in
                    defer { s.queue.removeAll(keepingCapacity: true) }
                    return (s.queue, s.isStopped)
                }
                if isStopped { return }
                for item in items {
                    try file.write(item.bytes, at: UInt64(item.index) * UInt64(TransferLimits.pieceSizeBytes))
                    state.withLock { $0.written[item.index] = true }
                    if item.index < nextToHash + TransferLimits.writerHeldPieces { held[item.index] = item.bytes }
                    onWritten(item.index)
                    room.signal()
                }
            }
            let result = hasher.finalize()
            state.withLock { $0.digest = result }
        } catch {
            state.withLock { $0.failure = "\(error)" }
        }
        onWritten(-1)
    }

    /// Feeds the hash every written piece that follows the hashed prefix: from memory when it
    /// is held, else read back from the file.
    private func hashWrittenPrefix(_ hasher: inout SHA1, next: inout Int, held: inout [Int: [UInt8]]) throws {
        let written = state.withLock { $0.written }
        while next < written.count && written[next] {
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

