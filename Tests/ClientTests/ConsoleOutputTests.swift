import Glibc
import Logging
import Testing
@testable import Client

/// The console's output when its reader is gone: `FileHandle.write(_:)` traps (SIGILL, exit
/// status 4) on `EPIPE` through its `try!`, so the client writes with `Log.writeAll` instead.
@Suite("console output never traps")
struct ConsoleOutputTests {
    /// A pipe whose read end is already closed: writing to `writeEnd` fails with `EPIPE`.
    static func brokenPipe() throws -> Int32 {
        signal(SIGPIPE, SIG_IGN)  // the client ignores it too (ignoreSIGPIPE)
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        close(ends[0])
        return ends[1]
    }

    @Test("an answer written to a pipe whose reader closed is dropped, not a trap")
    func answerToClosedPipe() throws {
        let writeEnd = try Self.brokenPipe()
        defer { close(writeEnd) }
        let console = Console(isJSON: true, outputDescriptor: writeEnd)
        console.write("{\"ok\":true}\n")
        console.write("{\"ok\":true,\"command\":\"show_downloads\"}\n")
        console.status("not a terminal: ignored")
        console.clearStatus()
        #expect(!Log.writeAll("x\n", to: writeEnd), "EPIPE is reported as a failed write")
    }

    @Test("an answer reaches a reader byte for byte")
    func answerReachesReader() throws {
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        defer { close(ends[0]) }
        let console = Console(isJSON: true, outputDescriptor: ends[1])
        console.write("{\"ok\":true}\n")
        close(ends[1])
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { read(ends[0], $0.baseAddress, $0.count) }
        #expect(String(decoding: buffer.prefix(max(0, count)), as: UTF8.self) == "{\"ok\":true}\n")
    }
}
