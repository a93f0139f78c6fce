/// What parsing a command line came to.
public enum FlagOutcome<Options> {
    /// Run with these options.
    case run(Options)
    /// `--help` or `-h` was given: print the usage and exit 0.
    case help
    /// The command line is wrong: print the message and the usage, exit 2.
    case usageError(String)
}

/// The one command-line parser of every executable: declare the flags, then `parse`. Flags
/// are `--name` (a switch) or `--name VALUE` (one or more values, the next arguments); `--help`
/// and `-h` always mean help; anything else starting with `-` is an unknown flag; other
/// arguments go to `positional` (or are refused when it is not set). Pure: it prints nothing
/// and never exits (see `FlagOutcome.resolve` for the standard way to act on the outcome).
public struct FlagParser<Options> {
    private enum Kind {
        case toggle((inout Options) -> Void)
        case values(count: Int, need: String, apply: (inout Options, [String]) -> Bool)
    }

    private var flags: [String: Kind] = [:]
    /// Receives each argument that is not a flag; returns false to refuse it. Nil: every such
    /// argument is refused.
    public var positional: ((inout Options, String) -> Bool)?
    /// The message for an argument starting with `-` that no flag declares.
    public var unknownFlagMessage: (String) -> String = { "unknown argument \($0)" }
    /// The message for a positional argument refused (or not expected).
    public var unexpectedArgumentMessage: (String) -> String = { "unknown argument \($0)" }
    /// Checks the options once every argument is read; returns a message when they do not fit
    /// together (a required flag missing, a range broken).
    public var validate: (Options) -> String? = { _ in nil }

    /// A parser with no flags yet.
    public init() {}

    /// Declares a switch: `names` (e.g. `--json`) set something and take no value.
    public mutating func toggle(_ names: String..., apply: @escaping (inout Options) -> Void) {
        for name in names { flags[name] = .toggle(apply) }
    }

    /// Declares a flag with one value. `need` completes the message when the value is missing
    /// or `apply` refuses it (returns false): `--conf needs a path`.
    public mutating func value(_ names: String..., need: String, apply: @escaping (inout Options, String) -> Bool) {
        for name in names { flags[name] = .values(count: 1, need: need, apply: { options, values in apply(&options, values[0]) }) }
    }

    /// Declares a flag with `count` values (`--determinism-digest SEED COUNT`).
    public mutating func values(_ name: String, count: Int, need: String, apply: @escaping (inout Options, [String]) -> Bool) {
        flags[name] = .values(count: max(1, count), need: need, apply: apply)
    }

    /// Reads `arguments` (without the program name) into `options`.
    public func parse(_ arguments: [String], into options: Options) -> FlagOutcome<Options> {
        var options = options
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            i += 1
            if argument == "--help" || argument == "-h" { return .help }
            switch flags[argument] {
            case let .toggle(apply)?:
                apply(&options)
            case let .values(count, need, apply)?:
                guard arguments.count - i >= count else { return .usageError("\(argument) \(need)") }
                let values = Array(arguments[i..<(i + count)])
                i += count
                guard apply(&options, values) else { return .usageError("\(argument) \(need)") }
            case nil:
                if argument.hasPrefix("-") { return .usageError(unknownFlagMessage(argument)) }
                guard let positional, positional(&options, argument) else { return .usageError(unexpectedArgumentMessage(argument)) }
            }
        }
        if let problem = validate(options) { return .usageError(problem) }
        return .run(options)
    }
}

/// Parsers of the values flags take.
public enum FlagValue {
    /// A whole number greater than zero.
    public static func positive(_ text: String) -> UInt64? {
        guard let number = UInt64(text), number > 0 else { return nil }
        return number
    }

    /// A whole number, zero or more, that fits an `Int`.
    public static func count(_ text: String) -> Int? {
        guard let number = Int(text), number >= 0 else { return nil }
        return number
    }

    /// A finite number greater than zero.
    public static func positiveReal(_ text: String) -> Double? {
        guard let number = Double(text), number > 0, number.isFinite else { return nil }
        return number
    }

    /// Comma-separated positive whole numbers (`1,16,64`).
    public static func positiveList(_ text: String) -> [Int]? {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        let numbers = parts.compactMap { Int($0) }.filter { $0 > 0 }
        return numbers.count == parts.count && !numbers.isEmpty ? numbers : nil
    }
}
