/// The line being typed at the interactive prompt, as a pure state machine over input bytes
/// (the terminal is in non-canonical mode, so the client sees every key and must edit the
/// line itself). Knowing the line is what lets a background event be printed on a line of its
/// own and the prompt and the partial input be drawn again below it.
///
/// Keys: printable ASCII and UTF-8 are inserted at the end; Backspace (DEL or ^H) removes the
/// last character; ^U clears the line; ^W removes the last word; Enter ends the line; ^D on an
/// empty line ends the input; tab counts as a space; escape sequences (arrows, function keys)
/// and other control bytes are ignored. The line never grows past `bytesMax`.
struct LineEditor: Sendable {
    /// What the caller should do after a byte.
    enum Outcome: Equatable, Sendable {
        /// Nothing to show.
        case none
        /// Write these bytes (the echo of what was inserted).
        case echo([UInt8])
        /// The line changed other than at its end: draw the prompt and `line` again.
        case redraw
        /// The line is too long or the key does nothing: ring the bell.
        case bell
        /// Enter: the finished line (the editor is empty again).
        case line(String)
        /// ^D on an empty line: no more input.
        case endOfInput
    }

    private enum Escape: Sendable {
        case none, started, csi
    }

    /// The bytes typed so far on this line.
    private(set) var line: [UInt8] = []
    private var escape = Escape.none
    /// Longest line kept; bytes past it are refused with the bell.
    let bytesMax: Int

    init(bytesMax: Int) { self.bytesMax = bytesMax }

    /// Takes one input byte.
    mutating func feed(_ byte: UInt8) -> Outcome {
        if let outcome = continueEscape(byte) { return outcome }
        switch byte {
        case 0x0D, 0x0A:
            defer { line = [] }
            return .line(String(decoding: line, as: UTF8.self))
        case 0x04:
            return line.isEmpty ? .endOfInput : .bell
        case 0x7F, 0x08:
            guard !line.isEmpty else { return .bell }
            removeLastCharacter()
            return .redraw
        case 0x15:
            line = []
            return .redraw
        case 0x17:
            while line.last == 0x20 { line.removeLast() }
            while let last = line.last, last != 0x20 { line.removeLast() }
            return .redraw
        case 0x1B:
            escape = .started
            return .none
        case 0x09:
            return insert(0x20)
        case 0x20..<0x7F, 0x80...0xFF:
            return insert(byte)
        default:
            return .none
        }
    }

    /// Consumes the bytes of an escape sequence (`ESC [ … final`, `ESC O x`, `ESC x`).
    private mutating func continueEscape(_ byte: UInt8) -> Outcome? {
        switch escape {
        case .none:
            return nil
        case .started:
            escape = byte == 0x5B || byte == 0x4F ? .csi : .none
            return Outcome.none
        case .csi:
            // Parameters and intermediates run 0x20–0x3F; a byte from 0x40 to 0x7E ends it.
            if byte >= 0x40 && byte <= 0x7E || byte < 0x20 { escape = .none }
            return Outcome.none
        }
    }

    private mutating func insert(_ byte: UInt8) -> Outcome {
        guard line.count < bytesMax else { return .bell }
        line.append(byte)
        return .echo([byte])
    }

    /// Removes one character: a UTF-8 scalar's continuation bytes, then its lead byte.
    private mutating func removeLastCharacter() {
        while let last = line.last, last & 0xC0 == 0x80 { line.removeLast() }
        if !line.isEmpty { line.removeLast() }
    }
}
