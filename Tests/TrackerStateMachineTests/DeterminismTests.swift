import Foundation
import TestSupport
import Testing
@testable import TrackerStateMachine

@Suite("Determinism")
struct DeterminismTests {
    @Test("two replicas given the same seeded commands return the same results and end byte-identical",
          arguments: [1, 2, 3, 4] as [UInt64])
    func replicasAgree(seed: UInt64) throws {
        var workload = RandomWorkload(seed: seed)
        var a = TrackerStateMachine()
        var b = TrackerStateMachine()
        var okCount = 0
        for step in 0..<5_000 {
            let envelope = workload.next()
            let result = a.apply(envelope)
            #expect(b.apply(envelope) == result)
            if result.isOK { okCount += 1 }
            a.checkInvariants()
            if step == 2_500 { b = try TrackerStateMachine.restore(b.snapshot()) } // fresh dictionaries
        }
        #expect(a.snapshot() == b.snapshot())
        #expect(okCount > 500, "the workload should mostly exercise successful paths too")
        for id in a.state.groups.keys {
            let token = a.state.sessionOfUser[a.state.groups[id]!.owner] ?? tok(0)
            #expect(a.query(.listFiles(tokenHash: token, groupID: id)).encode() == b.query(.listFiles(tokenHash: token, groupID: id)).encode())
        }
    }

    static var benchPath: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("state-machine-bench").path
    }

    @Test("another process (another hash seed) computes the same digest of results and snapshot",
          .enabled(if: FileManager.default.isExecutableFile(atPath: benchPath)))
    func crossProcess() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.benchPath)
        process.arguments = ["--determinism-digest", "77", "4000"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let printed = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let local = RandomWorkload.replayDigest(seed: 77, commandCount: 4_000)
        #expect(printed == String(local, radix: 16))
    }
}
