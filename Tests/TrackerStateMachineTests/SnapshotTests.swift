import TestSupport
import Testing
@testable import TrackerStateMachine

@Suite("Snapshots")
struct SnapshotTests {
    static func busyMachine(seed: UInt64 = 42, count: Int = 3_000) -> TrackerStateMachine {
        var workload = RandomWorkload(seed: seed)
        var machine = TrackerStateMachine()
        for _ in 0..<count { _ = machine.apply(workload.next()) }
        return machine
    }

    @Test("restore(snapshot(s)) equals s, and snapshot(restore(snapshot(s))) == snapshot(s)")
    func roundTrip() throws {
        for machine in [TrackerStateMachine(), Self.busyMachine()] {
            let bytes = machine.snapshot()
            let restored = try TrackerStateMachine.restore(bytes)
            #expect(restored == machine)
            #expect(restored.state.usage == machine.state.usage, "quota usage is rebuilt on restore")
            #expect(try TrackerStateMachine.restore(bytes, checksInvariants: false).state.usage == machine.state.usage)
            #expect(restored.snapshot() == bytes)
        }
        let busy = Self.busyMachine()
        #expect(busy.state.groupCount > 0 && busy.state.fileCount > 0 && busy.state.sessionCount > 0 && busy.cachedClientCount.sessions > 0 && busy.cachedClientCount.logins > 0)
        #expect(busy.state.usage.isEmpty == false)
    }

    @Test("a restored machine behaves exactly like the original afterwards")
    func restoredBehavesAlike() throws {
        var workload = RandomWorkload(seed: 9)
        var original = TrackerStateMachine()
        for _ in 0..<1_000 { _ = original.apply(workload.next()) }
        var restored = try TrackerStateMachine.restore(original.snapshot())
        for _ in 0..<2_000 {
            let envelope = workload.next()
            #expect(original.apply(envelope) == restored.apply(envelope))
        }
        #expect(original.snapshot() == restored.snapshot())
    }

    @Test("every flipped bit, truncation and appended byte is rejected with a clear error")
    func corruption() {
        let bytes = Self.busyMachine(count: 300).snapshot()
        for i in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 2_000)) {
            var broken = bytes
            broken[i] ^= 0x10
            #expect(throws: SnapshotError.self) { try TrackerStateMachine.restore(broken) }
        }
        for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 500)) {
            #expect(throws: SnapshotError.self) { try TrackerStateMachine.restore(Array(bytes[..<cut])) }
        }
        #expect(throws: SnapshotError.self) { try TrackerStateMachine.restore(bytes + [0]) }
        var badMagic = bytes
        badMagic[0] = 0
        #expect(throws: SnapshotError("bad magic")) { try TrackerStateMachine.restore(badMagic) }
        var badVersion = bytes
        badVersion[5] = 9
        #expect(throws: SnapshotError("unsupported version 9 (this build reads only version 3)")) { try TrackerStateMachine.restore(badVersion) }
        var version2 = bytes
        version2[5] = 2
        #expect(throws: SnapshotError("unsupported version 2 (this build reads only version 3)")) { try TrackerStateMachine.restore(version2) }
    }

    @Test("a well-checksummed snapshot of an inconsistent state is rejected")
    func inconsistent() {
        var machine = TrackerStateMachine()
        _ = machine.apply(CommandEnvelope(clientID: 1, sequence: 1, command: .createUser(userID: "a", salt: Harness.salt, passwordHash: Harness.passwordHash)))
        machine.state.groups["g"] = Group(members: ["ghost"])
        #expect(throws: SnapshotError("inconsistent state: group g: unknown user ghost")) {
            try TrackerStateMachine.restore(machine.snapshot())
        }
        var limits = Limits.standard
        limits.usersMax = 1
        var two = TrackerStateMachine()
        _ = two.apply(CommandEnvelope(clientID: 0, sequence: 0, command: .createUser(userID: "b", salt: Harness.salt, passwordHash: Harness.passwordHash)))
        _ = two.apply(CommandEnvelope(clientID: 0, sequence: 0, command: .createUser(userID: "c", salt: Harness.salt, passwordHash: Harness.passwordHash)))
        #expect(throws: SnapshotError.self) { try TrackerStateMachine.restore(two.snapshot(), limits: limits) }
    }
}
