import CommandLineFlags
import Foundation

// MARK: - Options

struct Options: Sendable {
    var binary = ".build-snap/release/tracker-node"
    var writes = 1_000_000
    var concurrency = 64
    var benchUsers = 16
    var users = 100_000
    var groups = 10_000
    var filesPerGroup = 10
    var piecesPerFile = 128
    var snapshotEntries: UInt64 = 10_000
    var writeSeconds = 2_400
    var maxSeconds = 3_600
    var ddMegabytes = 512
    var tempParent = FileManager.default.temporaryDirectory.path

    static let usage = """
        usage: snapshot-bench [--binary PATH] [--writes 1000000] [--concurrency 64] [--bench-users 16]
                              [--users 100000] [--groups 10000] [--files-per-group 10] [--pieces-per-file 128]
                              [--snapshot-entries 10000] [--write-seconds 2400] [--max-seconds 3600]
                              [--dd-mb 512 (0: skip)] [--temp DIR]
        """

    static func parse(_ arguments: [String]) -> FlagOutcome<Options> {
        var parser = FlagParser<Options>()
        parser.value("--binary", need: "needs a value") { o, v in o.binary = v; return true }
        parser.value("--temp", need: "needs a value") { o, v in o.tempParent = v; return true }
        let numbers: [(String, (inout Options, Int) -> Void)] = [
            ("--writes", { $0.writes = $1 }), ("--concurrency", { $0.concurrency = max(1, $1) }),
            ("--bench-users", { $0.benchUsers = max(1, $1) }), ("--users", { $0.users = $1 }), ("--groups", { $0.groups = max(1, $1) }),
            ("--files-per-group", { $0.filesPerGroup = $1 }), ("--pieces-per-file", { $0.piecesPerFile = max(1, $1) }),
            ("--snapshot-entries", { $0.snapshotEntries = UInt64(max(1, $1)) }), ("--write-seconds", { $0.writeSeconds = max(1, $1) }),
            ("--max-seconds", { $0.maxSeconds = max(10, $1) }), ("--dd-mb", { $0.ddMegabytes = $1 }),
        ]
        for (name, set) in numbers {
            parser.value(name, need: "needs a number") { o, v in
                guard let number = FlagValue.count(v) else { return false }
                set(&o, number)
                return true
            }
        }
        parser.validate = { options in
            guard FileManager.default.isExecutableFile(atPath: options.binary) else { return "no executable at \(options.binary)" }
            guard options.users >= options.groups + options.benchUsers else { return "need users >= groups + bench users" }
            return nil
        }
        return parser.parse(arguments, into: Options())
    }
}
