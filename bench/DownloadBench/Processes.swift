import Foundation
import Networking
import Synchronization

/// A free TCP port on 127.0.0.1.
func freePort() throws -> UInt16 {
    let socket = try Socket.listen(host: "127.0.0.1", port: 0)
    defer { socket.close() }
    return try socket.localPort
}

/// Lines read from a process's standard output, and a signal per line.
final class LineBuffer: Sendable {
    let lines = Mutex<[String]>([])
    let arrived = DispatchSemaphore(value: 0)
}

/// A child process we started; killed by pid in `kill()`.
final class Child: Sendable {
    let process: Process
    let input: Pipe
    let output = LineBuffer()

    init(_ binary: String, _ arguments: [String], log: String) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        input = Pipe()
        let out = Pipe()
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.standardInput = input
        process.standardOutput = out
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try process.run()
        let reader = out.fileHandleForReading
        let thread = Thread { [buffer = output] in
            var pending = Data()
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: 0x0A) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending = Data(pending[(newline + 1)...])
                    buffer.lines.withLock { $0.append(line) }
                    buffer.arrived.signal()
                }
            }
        }
        thread.start()
    }

    /// Sends a command and returns the next JSON answer.
    @discardableResult
    func run(_ command: String, timeoutMillis: Int = 120_000) -> [String: Any] {
        // A child that died closed its end: report it as a failed answer, never trap.
        if let gone = exitReport() { return ["ok": false, "error": gone] }
        do {
            try input.fileHandleForWriting.write(contentsOf: Data((command + "\n").utf8))
        } catch {
            return ["ok": false, "error": "the child process is gone (\(error))"]
        }
        let deadline = DispatchTime.now() + .milliseconds(timeoutMillis)
        while true {
            if let line = output.lines.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) {
                return (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]) ?? ["unparsed": line]
            }
            if let gone = exitReport() { return ["ok": false, "error": gone] }
            // Wake at least every 100 ms to notice a child that died without answering.
            if output.arrived.wait(timeout: min(deadline, .now() + .milliseconds(100))) == .timedOut, DispatchTime.now() >= deadline {
                return ["ok": false, "error": "no answer to '\(command.split(separator: " ").first ?? "")' within \(timeoutMillis) ms"]
            }
        }
    }

    /// Why the child is gone (it exited, with its status), or nil while it runs.
    func exitReport() -> String? {
        process.isRunning ? nil : "the child process exited with status \(process.terminationStatus)"
    }

    /// Runs a command that must succeed.
    func must(_ command: String) throws {
        let answer = run(command)
        guard answer["ok"] as? Bool == true else { throw BenchError("\(command.split(separator: " ").first ?? ""): \(answer)") }
    }

    func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Seconds of the monotonic clock.
func nowSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
