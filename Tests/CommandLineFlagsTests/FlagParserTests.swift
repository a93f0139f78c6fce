import CommandLineFlags
import Testing

/// Options of a made-up command, to exercise every kind of flag.
struct Sample: Equatable {
    var isVerbose = false
    var name = ""
    var count: UInt64 = 1
    var pair: [String] = []
    var files: [String] = []
}

func sampleParser(positional: Bool = true) -> FlagParser<Sample> {
    var parser = FlagParser<Sample>()
    parser.toggle("--verbose", "-v") { $0.isVerbose = true }
    parser.value("--name", need: "needs a name") { o, v in o.name = v; return true }
    parser.value("--count", need: "needs a positive number") { o, v in
        guard let n = FlagValue.positive(v) else { return false }
        o.count = n
        return true
    }
    parser.values("--pair", count: 2, need: "needs two words") { o, v in o.pair = v; return true }
    if positional { parser.positional = { o, argument in o.files.append(argument); return true } }
    parser.validate = { $0.count > 100 ? "--count must be at most 100" : nil }
    return parser
}

extension FlagOutcome {
    var options: Options? { if case let .run(o) = self { o } else { nil } }
    var error: String? { if case let .usageError(m) = self { m } else { nil } }
    var isHelp: Bool { if case .help = self { true } else { false } }
}

@Suite("FlagParser")
struct FlagParserTests {
    @Test("switches, values, multi-value flags and positional arguments land in the options, in any order")
    func everyKind() {
        let parsed = sampleParser().parse(["a.txt", "--verbose", "--name", "x y", "--pair", "p", "q", "--count", "7", "b.txt"], into: Sample())
        #expect(parsed.options == Sample(isVerbose: true, name: "x y", count: 7, pair: ["p", "q"], files: ["a.txt", "b.txt"]))
        #expect(sampleParser().parse([], into: Sample()).options == Sample())
        #expect(sampleParser().parse(["-v", "--name", "--count"], into: Sample()).options?.name == "--count", "a value may look like a flag")
    }

    @Test("--help and -h mean help wherever they stand, even after an error-free prefix")
    func help() {
        #expect(sampleParser().parse(["--help"], into: Sample()).isHelp)
        #expect(sampleParser().parse(["--verbose", "-h", "--bogus"], into: Sample()).isHelp)
    }

    @Test("an unknown flag, a missing or refused value, a refused positional and a failed validation are usage errors naming the flag")
    func errors() {
        #expect(sampleParser().parse(["--bogus"], into: Sample()).error == "unknown argument --bogus")
        #expect(sampleParser().parse(["-"], into: Sample()).error == "unknown argument -")
        #expect(sampleParser().parse(["--name"], into: Sample()).error == "--name needs a name")
        #expect(sampleParser().parse(["--count", "0"], into: Sample()).error == "--count needs a positive number")
        #expect(sampleParser().parse(["--count", "-3"], into: Sample()).error == "--count needs a positive number")
        #expect(sampleParser().parse(["--count", "99999999999999999999999"], into: Sample()).error == "--count needs a positive number")
        #expect(sampleParser().parse(["--pair", "p"], into: Sample()).error == "--pair needs two words")
        #expect(sampleParser().parse(["--count", "101"], into: Sample()).error == "--count must be at most 100")
        #expect(sampleParser(positional: false).parse(["stray"], into: Sample()).error == "unknown argument stray")
        var custom = sampleParser(positional: false)
        custom.unknownFlagMessage = { "unknown flag \($0)" }
        custom.unexpectedArgumentMessage = { "what is \($0)?" }
        #expect(custom.parse(["--x"], into: Sample()).error == "unknown flag --x")
        #expect(custom.parse(["y"], into: Sample()).error == "what is y?")
    }

    @Test("value parsers refuse what does not fit and never trap")
    func values() {
        #expect(FlagValue.positive("5") == 5 && FlagValue.positive("0") == nil && FlagValue.positive("") == nil && FlagValue.positive("1e3") == nil)
        #expect(FlagValue.count("0") == 0 && FlagValue.count("-1") == nil && FlagValue.count("9223372036854775808") == nil)
        #expect(FlagValue.positiveReal("2.5") == 2.5 && FlagValue.positiveReal("inf") == nil && FlagValue.positiveReal("nan") == nil)
        #expect(FlagValue.positiveList("1,16,64") == [1, 16, 64] && FlagValue.positiveList("1,,2") == nil && FlagValue.positiveList("") == nil)
    }
}
