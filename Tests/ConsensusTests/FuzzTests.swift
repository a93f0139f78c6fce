import Testing
@testable import Consensus

/// A short seeded fuzz run; bench/fuzz runs the same generator under libFuzzer for millions of
/// inputs. Any trap fails the whole test process, which is the point: none may be reachable.
@Suite("Hostile input, seeded")
struct FuzzTests {
    static let fixtures = RoleFixtures.make()
    static let inputsPerFixture = 2_500

    @Test("the fixtures cover every role, progress in every state, and compacted logs")
    func fixturesCoverRoles() throws {
        let nodes = Self.fixtures.map(\.node)
        #expect(Set(nodes.map(\.role)) == [.follower, .preCandidate, .candidate, .leader])
        let states = nodes.flatMap { $0.progress.values.map { "\($0.state)" } }
        #expect(Set(states) == ["probe", "replicate", "snapshot"])
        #expect(nodes.contains { $0.role == .leader && $0.snapshotMeta != nil })
        #expect(nodes.contains { $0.role == .follower && $0.snapshotMeta != nil })
        #expect(nodes.contains { $0.isTermExhausted })
        #expect(nodes.contains { $0.role == .leader && $0.isWitnessEngaged })
        #expect(nodes.contains { $0.memberRole == .witness && $0.witnessMark > .zero })
        #expect(nodes.contains { $0.memberRole == .learner })
    }

    @Test("hostile messages and answers through step, in every role: no trap, invariants hold, refusals change nothing",
          arguments: 0..<fixtures.count)
    func hostileMessages(fixture: Int) {
        var choices = SeededChoices(seed: 0xF022 &+ UInt64(fixture))
        var driver = HostileDriver(node: Self.fixtures[fixture].node)
        var reasons: Set<MessageRefusal> = []
        var accepted = 0
        for _ in 0..<Self.inputsPerFixture {
            let before = driver.node.refusals.messages
            driver.act(using: &choices)
            if let reason = driver.node.refusals.lastMessage { reasons.insert(reason) }
            if driver.node.refusals.messages == before { accepted += 1 }
        }
        #expect(accepted > Self.inputsPerFixture / 4, "most inputs should reach the core")
        #expect(reasons.count >= 10, "the generator should trip many refusal reasons, saw \(reasons.sorted { $0.rawValue < $1.rawValue })")
    }

    @Test("arbitrary and mutated frames through decode and step, in every role: no trap, invariants hold",
          arguments: 0..<fixtures.count)
    func hostileFrames(fixture: Int) {
        var choices = SeededChoices(seed: 0xF7A3 &+ UInt64(fixture))
        var driver = HostileDriver(node: Self.fixtures[fixture].node)
        var decoded = 0
        for _ in 0..<Self.inputsPerFixture {
            var frame = RaftCodec.encode(driver.generator.message(to: driver.node, using: &choices))
            switch choices.below(5) {
            case 0: frame = choices.bytes(maxCount: 120)
            case 1: frame[choices.below(frame.count)] ^= UInt8(1) << UInt8(choices.below(8))
            case 2: frame.removeLast(choices.below(frame.count))
            case 3: frame.append(contentsOf: choices.bytes(maxCount: 8))
            default: break
            }
            let count = driver.inputCount
            driver.stepFrame(frame)
            if driver.inputCount > count { decoded += 1 }
        }
        #expect(decoded > Self.inputsPerFixture / 4)
    }
}
