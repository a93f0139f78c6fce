import Foundation
import ProcessHarness
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

    @Test("another process (another hash seed) computes the same digest of results and snapshot",
          .enabled(if: builtExecutable("state-machine-bench") != nil))
    func crossProcess() throws {
        let run = try runToExit(try #require(builtExecutable("state-machine-bench")), ["--determinism-digest", "77", "4000"])
        #expect(run.status == 0)
        let printed = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let local = RandomWorkload.replayDigest(seed: 77, commandCount: 4_000)
        #expect(printed == String(local, radix: 16))
    }
}
