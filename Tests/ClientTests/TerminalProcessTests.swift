import Foundation
import ProcessHarness
import Synchronization
import Testing

/// A `client` process whose standard input and output are a pseudo-terminal (its standard
/// error goes to a file). `raw` turns off the terminal's echo and output processing, so what
/// is read back is exactly what the client wrote.
final class TerminalClient: Sendable {
    let process: Process
    private let master: Int32
    private let output = Mutex<[UInt8]>([])
    private let readerDone = DispatchSemaphore(value: 0)
    private let isStopped = Mutex(false)

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init(arguments: [String], raw: Bool, stderrPath: String) throws {
        // posix_openpt is opening /dev/ptmx; unlockpt and ptsname_r are not in Swift's Glibc
        // module (they need _XOPEN_SOURCE), so they are looked up in libc.
        master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        typealias Unlock = @convention(c) (Int32) -> Int32
        typealias Name = @convention(c) (Int32, UnsafeMutablePointer<CChar>, Int) -> Int32
        guard master >= 0, let unlockSymbol = dlsym(nil, "unlockpt"), let nameSymbol = dlsym(nil, "ptsname_r"),
              unsafeBitCast(unlockSymbol, to: Unlock.self)(master) == 0 else { throw Failure(description: "no pseudo-terminal") }
        var name = [CChar](repeating: 0, count: 256)
        guard unsafeBitCast(nameSymbol, to: Name.self)(master, &name, name.count) == 0 else { throw Failure(description: "ptsname failed") }
        let slave = open(String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self), O_RDWR | O_NOCTTY)
        guard slave >= 0 else { throw Failure(description: "cannot open the terminal's slave side") }
        defer { close(slave) }
        if raw {
            var settings = termios()
            tcgetattr(slave, &settings)
            cfmakeraw(&settings)
            tcsetattr(slave, TCSANOW, &settings)
        }
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: executablePath("client"))
        process.arguments = arguments
        let terminal = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
        process.standardInput = terminal
        process.standardOutput = terminal
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try process.run()
        let thread = Thread { [self] in readOutput() }
        thread.start()
    }

    private func readOutput() {
        var chunk = [UInt8](repeating: 0, count: 4_096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break } // EIO once the client is gone
            output.withLock { $0.append(contentsOf: chunk[0..<count]) }
        }
        readerDone.signal()
    }

    /// Waits until the output ends with the interactive prompt.
    @discardableResult
    func waitForPrompt(timeoutMillis: Int = 30_000) -> Bool {
        let deadline = Date().addingTimeInterval(Double(timeoutMillis) / 1000)
        while Date() < deadline {
            let prompt = Array("\r\u{1b}[K> ".utf8)
            if bytes.suffix(prompt.count).elementsEqual(prompt) { return true }
            usleep(20_000)
        }
        return false
    }

    /// Everything the client wrote so far.
    var bytes: [UInt8] { output.withLock { $0 } }
    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Types `text` as keys.
    func type(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
    }

    /// Waits until `needle` appears in the output past byte `offset`; returns whether it did.
    @discardableResult
    func waitFor(_ needle: String, after offset: Int = 0, timeoutMillis: Int = 30_000) -> Bool {
        let deadline = Date().addingTimeInterval(Double(timeoutMillis) / 1000)
        while Date() < deadline {
            let current = bytes
            if offset <= current.count, String(decoding: current[offset...], as: UTF8.self).contains(needle) { return true }
            usleep(20_000)
        }
        return false
    }

    /// Waits for the client to exit (then for the reader), killing it after `timeoutMillis`.
    func finish(timeoutMillis: Int = 20_000) -> Int32? {
        let deadline = Date().addingTimeInterval(Double(timeoutMillis) / 1000)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        let status: Int32? = process.isRunning ? nil : process.terminationStatus
        stop()
        return status
    }

    /// Kills the client (if it still runs) and closes the terminal, once; returns whether this
    /// call closed it. The descriptor is closed only once, and only after the reader thread left
    /// `read`: this test process runs other suites at the same time, and a number closed twice
    /// (`finish` then a deferred `stop`) or under a reader may by then name another test's pipe
    /// or socket, e.g. the read end of a `ClientProcess`'s standard output, whose client then
    /// dies on its next answer (EPIPE; `FileHandle.write` trapped: exit status 4).
    @discardableResult
    func stop() -> Bool {
        guard isStopped.withLock({ stopped in defer { stopped = true }; return !stopped }) else { return false }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        // A reader that never ends keeps the descriptor (leaked) rather than have it closed under it.
        guard readerDone.wait(timeout: .now() + 60) == .success else { return false }
        close(master)
        return true
    }
}

/// The client on a terminal: progress bars, hashing progress, background events on their own
/// line with the prompt and the partial input redrawn; and `--json` unchanged on a terminal.
@Suite("client on a terminal", .serialized)
struct TerminalProcessTests {
    @Test("stopping a terminal client twice closes its terminal once (a second close could hit another test's pipe)")
    func stopClosesOnce() throws {
        let folder = try makeTemporaryDirectory(prefix: "terminal-stop")
        defer { try? FileManager.default.removeItem(atPath: folder); Children.shared.remove(directory: folder) }
        // No cluster.conf: the client exits at once; the terminal stays open until stop().
        let terminal = try TerminalClient(arguments: ["127.0.0.1:\(try freePort())", folder + "/missing.conf"],
                                          raw: true, stderrPath: folder + "/client.log")
        #expect(terminal.finish() == 1)
        #expect(terminal.stop() == false, "finish() already closed it")
    }

    @Test("show_downloads draws a bar; a finished download prints its event on its own line and redraws the prompt and the partial input; upload_file shows hashing progress")
    func progressAndEvents() throws {
        let f = try Fixture()
        defer { f.stop() }
        let piece = 524_288
        _ = try makeRandomFile(in: f.files, name: "movie.bin", byteCount: 12 * piece)
        let alice = try f.client("alice", user: "alice", extraArguments: ["--test-serve-delay-ms", "300"])
        #expect(alice.ok("create_group g"))
        #expect(alice.ok("upload_file \(f.files)/movie.bin g"))
        let port = try freePort()
        let bob = try TerminalClient(arguments: ["127.0.0.1:\(port)", f.cluster.confPath, "--state-dir", f.files + "/bob-state"],
                                     raw: false, stderrPath: f.files + "/bob.log")
        defer { bob.stop() }
        for (command, answer) in [("create_user bob pw", "user bob created"), ("login bob pw", "logged in as bob"),
                                  ("join_group g", "join request sent to g")] {
            try #require(bob.waitForPrompt(), "prompt: \(bob.text.debugDescription)")
            bob.type(command + "\r")
            try #require(bob.waitFor(answer), "\(command): \(bob.text)")
        }
        #expect(alice.ok("accept_request g bob"))
        let destination = try f.folder("bob-downloads")
        bob.type("download_file g movie.bin \(destination)\r")
        try #require(bob.waitFor("downloading movie.bin"), "\(bob.text)")
        var mark = bob.bytes.count
        bob.type("show_downloads\r")
        #expect(bob.waitFor("[D] [g] movie.bin [", after: mark), "\(bob.text)")
        #expect(bob.waitFor(" ETA ", after: mark), "\(bob.text)")
        #expect(bob.waitFor("% ", after: mark))

        // Half a command typed when the download ends: the event gets its own line, and the
        // prompt comes back with the half command, which the user then finishes.
        try #require(bob.waitForPrompt(), "\(bob.text)")
        mark = bob.bytes.count
        bob.type("list_gr")
        let event = "\r\u{1b}[Kdownload complete: [g] movie.bin -> \(destination)/movie.bin\r\n\r\u{1b}[K> list_gr"
        #expect(bob.waitFor(event, after: mark), "\(String(decoding: bob.bytes[mark...], as: UTF8.self).debugDescription)")
        bob.type("oups\r")
        #expect(bob.waitFor("g owner=alice members=2", after: mark), "\(bob.text)")

        // A large file (sparse: fast to make, still hashed byte by byte) shows hashing progress.
        let big = f.files + "/big.bin"
        _ = FileManager.default.createFile(atPath: big, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: big))
        try handle.truncate(atOffset: 1 << 29)
        try handle.close()
        mark = bob.bytes.count
        bob.type("upload_file \(big) g\r")
        #expect(bob.waitFor("uploaded big.bin to g", after: mark, timeoutMillis: 60_000), "\(bob.text)")
        let upload = String(decoding: bob.bytes[mark...], as: UTF8.self)
        #expect(upload.contains("\r\u{1b}[Khashing big.bin ["), "\(upload.debugDescription)")
        #expect(upload.contains("\r\u{1b}[Kuploaded big.bin"), "the hashing line is cleared before the answer")
        bob.type("quit\r")
        #expect(bob.finish() == 0)
    }

    @Test("--json prints the same bytes on a terminal as through a pipe: no prompt, no progress, no events")
    func jsonUnchangedOnTerminal() throws {
        let f = try Fixture()
        defer { f.stop() }
        let setup = try f.client("setup", user: "ju")
        #expect(setup.ok("create_group jg"))
        #expect(setup.ok("logout"))
        let big = try makeRandomFile(in: f.files, name: "multi.bin", byteCount: 20 * 524_288 + 7)
        let commands = ["login ju pw-ju", "upload_file \(big) jg", "list_files jg", "show_downloads", "list_groups",
                        "bogus", "help", "logout", "quit"]
        let script = commands.joined(separator: "\n") + "\n"

        // Through pipes.
        let piped = Process()
        piped.executableURL = URL(fileURLWithPath: executablePath("client"))
        piped.arguments = ["127.0.0.1:\(try freePort())", f.cluster.confPath, "--json", "--state-dir", f.files + "/piped"]
        let input = Pipe()
        let output = Pipe()
        piped.standardInput = input
        piped.standardOutput = output
        piped.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try piped.run()
        input.fileHandleForWriting.write(Data(script.utf8))
        let pipedBytes = output.fileHandleForReading.readDataToEndOfFile()
        piped.waitUntilExit()

        // On a terminal (raw, so nothing is translated or echoed), one line at a time.
        let terminal = try TerminalClient(arguments: ["127.0.0.1:\(try freePort())", f.cluster.confPath, "--json",
                                                      "--state-dir", f.files + "/tty"],
                                          raw: true, stderrPath: f.files + "/tty.log")
        defer { terminal.stop() }
        for (index, command) in commands.enumerated() {
            terminal.type(command + "\n")
            let lines = { terminal.bytes.filter { $0 == 0x0A }.count }
            let deadline = Date().addingTimeInterval(30)
            while lines() <= index && Date() < deadline { usleep(20_000) }
        }
        #expect(terminal.finish() == 0)
        let pipedText = String(decoding: pipedBytes, as: UTF8.self)
        #expect(pipedText.split(separator: "\n").count == commands.count, "\(pipedText)")
        #expect(pipedText.contains("\"command\":\"upload_file\",\"group\":\"jg\""))
        #expect(terminal.bytes == Array(pipedBytes), "terminal: \(terminal.text.debugDescription)\npiped: \(pipedText.debugDescription)")
    }
}
