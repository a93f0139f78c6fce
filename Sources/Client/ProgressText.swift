import Foundation
import PeerTransfer

/// The text of progress on a terminal, as pure functions of numbers (no clock, no terminal):
/// bars, percentages, speeds and times left. Every input is a measurement and may be NaN,
/// infinite, negative or huge; every output stays well formed.
enum ProgressText {
    /// Cells of a progress bar between its brackets.
    static let barWidth = 24
    /// A time left beyond this is shown as `>99h`.
    static let etaSecondsMax = 99 * 3_600

    /// `[#########---------------]`: exactly `width` cells between the brackets, `#` for the done
    /// fraction (rounded down, so the bar is full only when done), `-` for the rest.
    static func bar(fraction: Double, width: Int = barWidth) -> String {
        let cells = max(0, width)
        let done = Int((clampedFraction(fraction) * Double(cells)).rounded(.down))
        return "[" + String(repeating: "#", count: done) + String(repeating: "-", count: cells - done) + "]"
    }

    /// `0.0%` to `100.0%`, one decimal, rounded down: `100.0%` only when all is done.
    static func percent(fraction: Double) -> String {
        let tenths = Int((clampedFraction(fraction) * 1_000).rounded(.down))
        return "\(tenths / 10).\(tenths % 10)%"
    }

    /// A speed in decimal units: `0 B/s`, `950 B/s`, `1.5 kB/s`, `12.3 MB/s`, `1.2 GB/s`.
    static func speed(bytesPerSecond: Double) -> String {
        guard bytesPerSecond.isFinite, bytesPerSecond > 0 else { return "0 B/s" }
        if bytesPerSecond < 1_000 { return "\(Int(bytesPerSecond.rounded(.down))) B/s" }
        let units: [(Double, String)] = [(1e3, "kB/s"), (1e6, "MB/s"), (1e9, "GB/s"), (1e12, "TB/s")]
        var chosen = units[0]
        for unit in units where bytesPerSecond >= unit.0 * 0.9995 { chosen = unit }
        return String(format: "%.1f", bytesPerSecond / chosen.0) + " " + chosen.1
    }

    /// Time left at `bytesPerSecond` for `remainingBytes`: `0:07`, `12:34`, `1:02:03`; `--:--`
    /// without a speed, `>99h` beyond `etaSecondsMax`.
    static func eta(remainingBytes: Double, bytesPerSecond: Double) -> String {
        guard remainingBytes.isFinite, bytesPerSecond.isFinite, bytesPerSecond > 0 else { return "--:--" }
        let secondsLeft = (max(0, remainingBytes) / bytesPerSecond).rounded(.up)
        guard secondsLeft <= Double(etaSecondsMax) else { return ">99h" }
        let total = Int(secondsLeft)
        let (hours, minutes, seconds) = (total / 3_600, total / 60 % 60, total % 60)
        let twoDigits = { (value: Int) in value < 10 ? "0\(value)" : "\(value)" }
        return hours > 0 ? "\(hours):\(twoDigits(minutes)):\(twoDigits(seconds))" : "\(minutes):\(twoDigits(seconds))"
    }

    /// A running download's line on a terminal:
    /// `[D] [group] file [####----] 45.0% 12.3 MB/s 3 peers ETA 0:07`.
    static func downloadLine(_ p: DownloadProgress, pieceSizeBytes: Int = TransferLimits.pieceSizeBytes) -> String {
        let fraction = p.pieceCount > 0 ? Double(p.doneCount) / Double(p.pieceCount) : 0
        // Pieces left times the piece size: at most one piece more than the bytes left.
        let remaining = Double(max(0, p.pieceCount - p.doneCount)) * Double(pieceSizeBytes)
        let peers = p.peerCount == 1 ? "1 peer" : "\(max(0, p.peerCount)) peers"
        let eta = p.pieceCount > 0 ? eta(remainingBytes: remaining, bytesPerSecond: p.bytesPerSecond) : "--:--"
        return "[D] [\(p.groupID)] \(p.fileName) \(bar(fraction: fraction)) \(percent(fraction: fraction)) "
            + "\(speed(bytesPerSecond: p.bytesPerSecond)) \(peers) ETA \(eta)"
    }

    /// The hashing line `upload_file` redraws: `hashing file [####----] 45.0% 312.5 MB/s ETA 0:02`.
    static func hashingLine(fileName: String, hashedBytes: UInt64, totalBytes: UInt64, elapsedMillis: UInt64) -> String {
        let fraction = totalBytes > 0 ? Double(hashedBytes) / Double(totalBytes) : 1
        let rate = elapsedMillis > 0 ? Double(hashedBytes) * 1_000 / Double(elapsedMillis) : 0
        let remaining = totalBytes > hashedBytes ? Double(totalBytes - hashedBytes) : 0
        return "hashing \(fileName) \(bar(fraction: fraction)) \(percent(fraction: fraction)) "
            + "\(speed(bytesPerSecond: rate)) ETA \(eta(remainingBytes: remaining, bytesPerSecond: rate))"
    }

    /// `fraction` in 0...1 (NaN is 0).
    static func clampedFraction(_ fraction: Double) -> Double {
        guard !fraction.isNaN else { return 0 }
        return min(1, max(0, fraction))
    }
}
