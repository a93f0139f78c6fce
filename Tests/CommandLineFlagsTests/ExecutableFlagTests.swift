import Foundation
import Testing

/// Runs a built executable with `arguments`; its status and both outputs (bounded in time).
func runExecutable(_ name: String, _ arguments: [String], timeoutSeconds: Double = 20) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try #require(builtExecutable(name), "\(name) was not built"))
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(timeoutSeconds)
    while process.isRunning && Date() < deadline { usleep(10_000) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    return (process.terminationStatus, stdout, stderr)
}

/// An executable swift build put beside the test bundle, or nil.
func builtExecutable(_ name: String) -> String? {
    var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let path = folder.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
        folder = folder.deletingLastPathComponent()
    }
    return nil
}

/// Each executable, where its `--help` goes and the first line of its usage.
let executables: [(name: String, helpOnStdout: Bool, usage: String)] = [
    ("tracker-node", true, "usage: tracker-node --conf <cluster.conf> --id <n>"),
    ("client", true, "usage: client <IP>:<PORT> cluster.conf [--json]"),
    ("tracker-sim", true, "usage: tracker-sim [--seeds N | --seed S [--trace]]"),
    ("consensus-bench", true, "usage: consensus-bench [--proposals N]"),
    ("state-machine-bench", false, "usage: state-machine-bench [--determinism-digest SEED COUNT]"),
    ("download-bench", true, "usage: download-bench --bin DIR --file PATH --work DIR"),
    ("snapshot-bench", true, "usage: snapshot-bench [--binary PATH]"),
    ("tracker-bench", true, "usage: tracker-bench load --binary PATH"),
    ("TLSBench", true, "usage: TLSBench [--mib N]"),
]

@Suite("every executable's flags", .serialized)
struct ExecutableFlagTests {
    @Test("--help prints the usage and exits 0, without running anything", arguments: executables.map(\.name))
    func help(_ name: String) throws {
        let entry = try #require(executables.first { $0.name == name })
        let result = try runExecutable(name, ["--help"])
        #expect(result.status == 0, "\(result)")
        #expect((entry.helpOnStdout ? result.stdout : result.stderr).hasPrefix(entry.usage), "\(result)")
        #expect((entry.helpOnStdout ? result.stderr : result.stdout).isEmpty, "\(result)")
    }

    @Test("an unknown flag names itself with the usage on standard error and exits 2", arguments: executables.map(\.name))
    func unknownFlag(_ name: String) throws {
        let entry = try #require(executables.first { $0.name == name })
        let result = try runExecutable(name, ["--bogus-flag"])
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.hasPrefix("\(name): "), "\(result)")
        #expect(result.stderr.contains("--bogus-flag") && result.stderr.contains(entry.usage), "\(result)")
        #expect(result.stdout.isEmpty, "\(result)")
    }

    @Test("a flag missing its value is a usage error, exit 2", arguments: [
        ("tracker-node", ["--conf"]), ("client", ["--state-dir"]), ("tracker-sim", ["--seeds"]), ("consensus-bench", ["--proposals"]),
        ("state-machine-bench", ["--determinism-digest", "1"]), ("download-bench", ["--bin"]), ("snapshot-bench", ["--writes"]),
        ("tracker-bench", ["load", "--binary"]), ("TLSBench", ["--mib"]),
    ])
    func missingValue(_ name: String, _ arguments: [String]) throws {
        let result = try runExecutable(name, arguments)
        #expect(result.status == 2 && result.stderr.contains("needs"), "\(result)")
    }
}
