@testable import PeerTransfer
import Testing
@testable import Client

/// The pure text of terminal progress, and the line editor of the interactive prompt.
@Suite("terminal progress text")
struct ProgressTextTests {
    @Test("a bar has exactly its width between brackets for any fraction; full only when done", arguments: [0, 1, 10, 24])
    func barWidth(width: Int) {
        for fraction in [-1, 0, 0.001, 0.5, 0.9999, 1, 7, .nan, .infinity, -.infinity] {
            let bar = ProgressText.bar(fraction: fraction, width: width)
            #expect(bar.count == width + 2, "\(fraction) -> \(bar)")
            #expect(bar.first == "[" && bar.last == "]")
            let filled = bar.filter { $0 == "#" }.count
            let expected = fraction.isNaN ? 0 : Int((min(1, max(0, fraction)) * Double(width)).rounded(.down))
            #expect(filled == expected, "\(fraction) -> \(bar)")
        }
        #expect(ProgressText.bar(fraction: 0.5, width: 10) == "[#####-----]")
        #expect(ProgressText.bar(fraction: 0.99, width: 10) == "[#########-]")
        #expect(ProgressText.bar(fraction: 1, width: 4) == "[####]")
        #expect(ProgressText.bar(fraction: 0.5, width: -3) == "[]")
    }

    @Test("percent: one decimal rounded down, so 100.0% only when complete; out-of-range and NaN clamp")
    func percent() {
        #expect(ProgressText.percent(fraction: 0) == "0.0%")
        #expect(ProgressText.percent(fraction: 0.0005) == "0.0%")
        #expect(ProgressText.percent(fraction: 0.5) == "50.0%")
        #expect(ProgressText.percent(fraction: 0.123456) == "12.3%")
        #expect(ProgressText.percent(fraction: 0.9999) == "99.9%")
        #expect(ProgressText.percent(fraction: 1) == "100.0%")
        #expect(ProgressText.percent(fraction: 3) == "100.0%")
        #expect(ProgressText.percent(fraction: -0.2) == "0.0%")
        #expect(ProgressText.percent(fraction: .nan) == "0.0%")
    }

    @Test("speeds in decimal units with one decimal; no speed, NaN or a negative is 0 B/s")
    func speeds() {
        #expect(ProgressText.speed(bytesPerSecond: 0) == "0 B/s")
        #expect(ProgressText.speed(bytesPerSecond: 999.9) == "999 B/s")
        #expect(ProgressText.speed(bytesPerSecond: 1_000) == "1.0 kB/s")
        #expect(ProgressText.speed(bytesPerSecond: 1_500_000) == "1.5 MB/s")
        #expect(ProgressText.speed(bytesPerSecond: 999_960) == "1.0 MB/s")
        #expect(ProgressText.speed(bytesPerSecond: 535_000_000) == "535.0 MB/s")
        #expect(ProgressText.speed(bytesPerSecond: 2.5e9) == "2.5 GB/s")
        #expect(ProgressText.speed(bytesPerSecond: 4e15) == "4000.0 TB/s")
        #expect(ProgressText.speed(bytesPerSecond: .nan) == "0 B/s")
        #expect(ProgressText.speed(bytesPerSecond: -5) == "0 B/s")
        #expect(ProgressText.speed(bytesPerSecond: .infinity) == "0 B/s")
    }

    @Test("time left: m:ss, h:mm:ss, rounded up; --:-- without a speed; >99h past the bound")
    func eta() {
        #expect(ProgressText.eta(remainingBytes: 7_000, bytesPerSecond: 1_000) == "0:07")
        #expect(ProgressText.eta(remainingBytes: 6_200, bytesPerSecond: 1_000) == "0:07")
        #expect(ProgressText.eta(remainingBytes: 754, bytesPerSecond: 1) == "12:34")
        #expect(ProgressText.eta(remainingBytes: 3_723, bytesPerSecond: 1) == "1:02:03")
        #expect(ProgressText.eta(remainingBytes: 0, bytesPerSecond: 10) == "0:00")
        #expect(ProgressText.eta(remainingBytes: -50, bytesPerSecond: 10) == "0:00")
        #expect(ProgressText.eta(remainingBytes: Double(99 * 3_600), bytesPerSecond: 1) == "99:00:00")
        #expect(ProgressText.eta(remainingBytes: Double(99 * 3_600 + 1), bytesPerSecond: 1) == ">99h")
        #expect(ProgressText.eta(remainingBytes: 1e30, bytesPerSecond: 1e-30) == ">99h")
        #expect(ProgressText.eta(remainingBytes: 100, bytesPerSecond: 0) == "--:--")
        #expect(ProgressText.eta(remainingBytes: 100, bytesPerSecond: .nan) == "--:--")
        #expect(ProgressText.eta(remainingBytes: .infinity, bytesPerSecond: 5) == "--:--")
    }

    @Test("a running download's line keeps the [D] [group] file prefix and adds bar, percent, speed, peers and ETA")
    func downloadLine() {
        let progress = DownloadProgress(groupID: "movies", fileName: "a.mkv", finalPath: "/tmp/a.mkv", state: .running,
                                        doneCount: 3, pieceCount: 12, bytesPerSecond: 1_048_576, peerCount: 1, elapsedMillis: 0)
        #expect(ProgressText.downloadLine(progress, pieceSizeBytes: 524_288)
            == "[D] [movies] a.mkv [######------------------] 25.0% 1.0 MB/s 1 peer ETA 0:05")
        var starting = progress
        starting.doneCount = 0
        starting.pieceCount = 0
        starting.peerCount = 0
        starting.bytesPerSecond = 0
        #expect(ProgressText.downloadLine(starting) == "[D] [movies] a.mkv [------------------------] 0.0% 0 B/s 0 peers ETA --:--")
    }

    @Test("the hashing line shows the share of bytes hashed and the rate so far")
    func hashingLine() {
        #expect(ProgressText.hashingLine(fileName: "big.bin", hashedBytes: 50_000_000, totalBytes: 200_000_000, elapsedMillis: 500)
            == "hashing big.bin [######------------------] 25.0% 100.0 MB/s ETA 0:02")
        #expect(ProgressText.hashingLine(fileName: "e", hashedBytes: 0, totalBytes: 0, elapsedMillis: 0)
            == "hashing e [########################] 100.0% 0 B/s ETA --:--")
    }
}

/// The prompt's line editor.
@Suite("interactive line editor")
struct LineEditorTests {
    func type(_ text: String, into editor: inout LineEditor) -> [LineEditor.Outcome] {
        text.utf8.map { editor.feed($0) }
    }

    @Test("typed bytes echo, Enter returns the line and empties the editor")
    func typing() {
        var editor = LineEditor(bytesMax: 100)
        #expect(type("ls", into: &editor) == [.echo([0x6C]), .echo([0x73])])
        #expect(editor.line == Array("ls".utf8))
        #expect(editor.feed(0x0D) == .line("ls"))
        #expect(editor.line.isEmpty)
        _ = type("x\ty", into: &editor)
        #expect(editor.feed(0x0A) == .line("x y"))
    }

    @Test("Backspace removes a whole UTF-8 character; ^U clears; ^W removes the last word; nothing to remove rings")
    func editing() {
        var editor = LineEditor(bytesMax: 100)
        #expect(editor.feed(0x7F) == .bell)
        _ = type("join_group caf\u{E9}", into: &editor)
        #expect(editor.feed(0x7F) == .redraw)
        #expect(editor.line == Array("join_group caf".utf8))
        #expect(editor.feed(0x08) == .redraw)
        #expect(editor.line == Array("join_group ca".utf8))
        _ = type("  ", into: &editor)
        #expect(editor.feed(0x17) == .redraw)
        #expect(editor.line == Array("join_group ".utf8))
        #expect(editor.feed(0x15) == .redraw)
        #expect(editor.line.isEmpty)
    }

    @Test("escape sequences and other control bytes are ignored; ^D ends input only on an empty line; the line is bounded")
    func controlAndBounds() {
        var editor = LineEditor(bytesMax: 3)
        // Up arrow (CSI A), F5 (CSI 15~), SS3 P, then a NUL and a ^G.
        let ignored: [UInt8] = [0x1B, 0x5B, 0x41, 0x1B, 0x5B, 0x31, 0x35, 0x7E, 0x1B, 0x4F, 0x50, 0x00, 0x07]
        #expect(ignored.map { editor.feed($0) }.allSatisfy { $0 == .none })
        #expect(editor.line.isEmpty)
        #expect(editor.feed(0x04) == .endOfInput)
        _ = type("abc", into: &editor)
        #expect(editor.feed(0x64) == .bell)
        #expect(editor.feed(0x04) == .bell)
        #expect(editor.feed(0x0D) == .line("abc"))
    }
}
