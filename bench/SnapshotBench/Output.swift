import Foundation
import ProcessHarness
import Synchronization
import SystemClock

// MARK: - Clocks, output

func mib(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
func out(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
func note(_ text: String) { FileHandle.standardError.write(Data("[snapshot-bench] \(text)\n".utf8)) }

/// Figures, printed as JSON lines as they come and kept for the summary.
let figures = Mutex<[(name: String, value: Double, unit: String)]>([])

func emit(_ name: String, _ value: Double, _ unit: String, _ extra: [String: String] = [:]) {
    var object: [String: Any] = ["figure": name, "value": value, "unit": unit]
    for (key, text) in extra { object[key] = text }
    if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
       let line = String(data: data, encoding: .utf8) {
        out(line)
    }
    figures.withLock { $0.append((name, value, unit)) }
}

// MARK: - Logs

/// `key=value` fields of the lines of `log` containing `message`.
func logFields(_ log: String, _ message: String) -> [[String: String]] {
    log.split(separator: "\n").filter { $0.contains(" \(message) ") || $0.hasSuffix(" \(message)") }.map { line in
        var fields: [String: String] = [:]
        for part in line.split(separator: " ") {
            guard let equals = part.firstIndex(of: "=") else { continue }
            fields[String(part[..<equals])] = String(part[part.index(after: equals)...])
        }
        return fields
    }
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))]
}

/// Kills everything and exits when the whole run exceeds its time.
func startWatchdog(seconds: Int) {
    let thread = Thread {
        let deadline = SystemClock.monotonicSeconds() + Double(seconds)
        while SystemClock.monotonicSeconds() < deadline { usleep(500_000) } // sleep() returns early on signals
        note("the run exceeded --max-seconds \(seconds): cleaning up and exiting")
        Children.shared.killAll()
        exit(3)
    }
    thread.start()
}


struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
