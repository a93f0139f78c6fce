import Foundation
import ProcessHarness
import Testing

/// Runs a built executable with `arguments` to its exit (bounded in time).
func runExecutable(_ name: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    try runToExit(try #require(builtExecutable(name), "\(name) was not built"), arguments)
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
