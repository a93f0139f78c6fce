import Foundation
import PeerTransfer
import Synchronization

extension ClientLimits {
    /// Shortest time between two redraws of a progress line.
    static let progressRedrawMillis: UInt64 = 100
    /// How long a background watcher waits for its download between checks.
    static let downloadWatchMillis = 60_000
}

/// Draws `upload_file`'s hashing progress on the console's status line, at most every
/// `progressRedrawMillis` (a file hashed faster than that shows nothing).
final class HashingMeter: Sendable {
    private let console: Console
    private let fileName: String
    private let startMillis = monotonicNowMillis()
    private let lastDrawMillis = Mutex<UInt64>(0)

    init(console: Console, fileName: String) {
        self.console = console
        self.fileName = fileName
        lastDrawMillis.withLock { $0 = startMillis }
    }

    /// Called by the hasher after each batch: `hashedBytes` of `totalBytes` are done.
    func update(_ hashedBytes: UInt64, of totalBytes: UInt64) {
        let now = monotonicNowMillis()
        let isDue = lastDrawMillis.withLock { last in
            guard millis(from: last, to: now) >= ClientLimits.progressRedrawMillis else { return false }
            last = now
            return true
        }
        guard isDue else { return }
        console.status(ProgressText.hashingLine(fileName: fileName, hashedBytes: hashedBytes, totalBytes: totalBytes,
                                                elapsedMillis: millis(from: startMillis, to: now)))
    }
}

extension ClientApp {
    /// The file's digests for `upload_file`; on a terminal the hashing progress is shown on the
    /// status line meanwhile, and cleared when hashing ends.
    func hashForUpload(path: String, fileName: String) throws -> FileDigests {
        let meter = console.isTerminal ? HashingMeter(console: console, fileName: fileName) : nil
        defer { console.clearStatus() }
        do {
            return try FileHashing.digests(ofFileAt: path, progress: meter.map { meter in { meter.update($0, of: $1) } })
        } catch {
            throw CommandError("bad path: \(error)")
        }
    }

    /// On a terminal, prints `download complete: [group] file -> path` or `download failed:
    /// [group] file: reason` on a line of its own when `download` ends (a thread per running
    /// download, at most `TransferLimits.downloadsMax`). Off a terminal nothing is printed:
    /// the log line on standard error says it.
    func reportWhenFinished(_ download: Download) {
        guard console.isTerminal else { return }
        let thread = Thread { [console] in
            while !download.waitUntilFinished(timeoutMillis: ClientLimits.downloadWatchMillis) {}
            let p = download.progress
            switch p.state {
            case .complete: console.event("download complete: [\(p.groupID)] \(p.fileName) -> \(p.finalPath)")
            case let .failed(reason): console.event("download failed: [\(p.groupID)] \(p.fileName): \(reason)")
            case .running: break
            }
        }
        thread.name = "download-watch"
        thread.start()
    }
}
