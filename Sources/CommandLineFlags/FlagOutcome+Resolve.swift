import Glibc

/// Where `--help` prints the usage.
public enum HelpStream: Sendable {
    /// Standard output (the convention: `tool --help | less`).
    case standardOutput
    /// Standard error (state-machine-bench's choice, kept).
    case standardError
}

extension FlagOutcome {
    /// The options to run with; or, for help, the usage on `helpStream` and exit 0; or, for
    /// an error, `command: message` and the usage on standard error and exit `errorStatus`.
    public func resolve(command: String, usage: String, helpStream: HelpStream = .standardOutput, errorStatus: Int32 = 2) -> Options {
        switch self {
        case let .run(options):
            return options
        case .help:
            writeAll(helpStream == .standardOutput ? STDOUT_FILENO : STDERR_FILENO, usage + "\n")
            exit(0)
        case let .usageError(message):
            writeAll(STDERR_FILENO, "\(command): \(message)\n\(usage)\n")
            exit(errorStatus)
        }
    }
}

/// Writes all of `text` to `descriptor`, retrying short writes and EINTR.
func writeAll(_ descriptor: Int32, _ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { return }
        bytes = bytes.dropFirst(written)
    }
}
