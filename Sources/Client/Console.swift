import Foundation
import Logging
import PeerTransfer
import Synchronization

/// The client's standard output and input, shared by the command loop and the background
/// threads (downloads, the peer server, the keepalive). One lock orders every write, so lines
/// never interleave.
///
/// Off a terminal, or with `--json`, it writes exactly what it is given: the output is the
/// same bytes as without it. On a terminal (standard output is a tty and not `--json`) it
/// also shows progress (a status line redrawn in place) and background events, each on its
/// own line: `\r\u{1b}[K` clears the line, the event is printed, and what was there (the
/// prompt and the partial input, or the status line) is drawn again. When standard input is a
/// terminal as well, it reads the line itself in non-canonical mode (see `LineEditor`), so it
/// knows the partial input to redraw; the terminal's settings are restored after every line
/// and by `restoreTerminal()` at exit.
final class Console: Sendable {
    /// Progress bars and event lines are shown (standard output is a terminal, not `--json`).
    let isTerminal: Bool
    /// The prompt is shown and lines are edited here (standard input is a terminal as well).
    let isInteractive: Bool
    /// Standard error is a terminal too: log lines then clear and redraw around themselves.
    private let isErrorTerminal: Bool
    static let prompt = "> "
    static let clearLine = "\r\u{1b}[K"
    private let state = Mutex(State())
    /// The terminal settings found at start, put back after each line (nil: not interactive).
    private let savedSettings: Mutex<termios?>

    private struct State {
        var editor = LineEditor(bytesMax: ClientLimits.commandLineBytesMax)
        var isPromptShown = false
        var status: String?
        /// Input bytes read but not yet edited (a paste of several lines).
        var pending: [UInt8] = []
        var pendingHead = 0

        mutating func takePending() -> UInt8? {
            guard pendingHead < pending.count else { return nil }
            defer { pendingHead += 1 }
            return pending[pendingHead]
        }
    }

    /// Where answers, the prompt and progress go (standard output unless a test says otherwise).
    private let outputDescriptor: Int32

    init(isJSON: Bool, outputDescriptor: Int32 = STDOUT_FILENO) {
        self.outputDescriptor = outputDescriptor
        isTerminal = !isJSON && isatty(outputDescriptor) == 1
        let isInputTerminal = isatty(STDIN_FILENO) == 1
        var settings = termios()
        let canEdit = isTerminal && isInputTerminal && tcgetattr(STDIN_FILENO, &settings) == 0
        isInteractive = canEdit
        isErrorTerminal = isatty(STDERR_FILENO) == 1
        savedSettings = Mutex(canEdit ? settings : nil)
        // Off a terminal the prompt is shown as before: when standard input is a terminal.
        showsPlainPrompt = !isJSON && isInputTerminal && !canEdit
    }

    /// A prompt without line editing (input is a terminal, output is not).
    private let showsPlainPrompt: Bool

    /// A command's answer (or any text of the command loop), written as given.
    func write(_ text: String) {
        guard !text.isEmpty else { return }
        state.withLock { state in
            if state.status != nil {
                writeOut(Self.clearLine)
                state.status = nil
            }
            writeOut(text)
        }
    }

    /// A background event (`download complete: …`), on a terminal only: on a line of its own,
    /// with the prompt and the partial input, or the status line, drawn again after it.
    func event(_ text: String) {
        guard isTerminal else { return }
        state.withLock { state in
            writeOut(Self.clearLine + escapeControlText(text) + "\n")
            redraw(state)
        }
    }

    /// Writes a rendered log line on standard error (the client's `Log` destination). On a
    /// terminal the line being typed is cleared first and drawn again after it, so the log
    /// never lands in the middle of the prompt.
    @Sendable func writeLog(_ line: String) {
        guard isTerminal && isErrorTerminal else { return Log.writeStandardError(line) }
        state.withLock { state in
            writeOut(Self.clearLine)
            Log.writeStandardError(line)
            redraw(state)
        }
    }

    /// Shows (or replaces) the status line, on a terminal only; `write` or `clearStatus`
    /// removes it.
    func status(_ text: String) {
        guard isTerminal else { return }
        state.withLock { state in
            state.status = escapeControlText(text)
            writeOut(Self.clearLine + escapeControlText(text))
        }
    }

    /// Removes the status line.
    func clearStatus() {
        state.withLock { state in
            guard state.status != nil else { return }
            state.status = nil
            writeOut(Self.clearLine)
        }
    }

    /// The next command line (nil at the end of input), after the prompt when there is one.
    func readLine() -> String? {
        guard isInteractive else {
            if showsPlainPrompt { write(Self.prompt) }
            return Swift.readLine(strippingNewline: true)
        }
        enterLineMode()
        defer { restoreTerminal() }
        state.withLock { state in
            state.isPromptShown = true
            redraw(state)
        }
        while true {
            guard let byte = nextByte() else { return endOfInput() }
            let result: String?? = state.withLock { state in
                switch state.editor.feed(byte) {
                case .none: return nil
                case let .echo(bytes): writeOut(String(decoding: bytes, as: UTF8.self))
                case .redraw: redraw(state)
                case .bell: writeOut("\u{7}")
                case let .line(text):
                    state.isPromptShown = false
                    writeOut("\n")
                    return .some(text)
                case .endOfInput:
                    state.isPromptShown = false
                    writeOut("\n")
                    return .some(nil)
                }
                return nil
            }
            if let result { return result }
        }
    }

    /// Puts the terminal back as it was found (also for exits from a signal handler).
    func restoreTerminal() {
        savedSettings.withLock { saved in
            guard var settings = saved else { return }
            _ = tcsetattr(STDIN_FILENO, TCSANOW, &settings)
        }
    }

    /// Non-canonical input without echo: every key reaches `LineEditor`. Signals (^C, ^Z) and
    /// output processing stay as they were.
    private func enterLineMode() {
        savedSettings.withLock { saved in
            guard var raw = saved else { return }
            raw.c_lflag &= ~tcflag_t(ICANON | ECHO | IEXTEN)
            withUnsafeMutableBytes(of: &raw.c_cc) { cc in
                cc[Int(VMIN)] = 1
                cc[Int(VTIME)] = 0
            }
            _ = tcsetattr(STDIN_FILENO, TCSANOW, &raw)
        }
    }

    private func endOfInput() -> String? {
        state.withLock { state in
            state.isPromptShown = false
            writeOut("\n")
        }
        return nil
    }

    /// One input byte, reading a chunk when none is pending; nil at the end of input.
    private func nextByte() -> UInt8? {
        if let byte = state.withLock({ $0.takePending() }) { return byte }
        var chunk = [UInt8](repeating: 0, count: 512)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(STDIN_FILENO, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return nil }
            return state.withLock { state in
                state.pending = Array(chunk[0..<count])
                state.pendingHead = 0
                return state.takePending()
            }
        }
    }

    /// Draws what belongs on the current line again: the prompt and the partial input while a
    /// line is being read, else the status line, if any.
    private func redraw(_ state: State) {
        if state.isPromptShown {
            writeOut(Self.clearLine + Self.prompt + String(decoding: state.editor.line, as: UTF8.self))
        } else if let status = state.status {
            writeOut(Self.clearLine + status)
        }
    }

    /// Best effort: output the reader no longer takes (a closed pipe) is dropped, never a trap
    /// (`FileHandle.write` traps on `EPIPE`).
    private func writeOut(_ text: String) {
        Log.writeAll(text, to: outputDescriptor)
    }

    private func escapeControlText(_ text: String) -> String { escapeControlCharacters(text) }
}
