import Testing
import TrackerProtocol

@Suite("Adaptive attempt timeouts")
struct AttemptTimeoutTests {
    @Test("before any answer an attempt waits the full timeout")
    func fullWithoutHistory() {
        let policy = CallPolicy()
        #expect(policy.attemptTimeoutMillis(for: .command(.keepAlive), recent: AnswerTimes()) == policy.attemptTimeoutMillis)
    }

    @Test("after fast answers an attempt waits a multiple of them, but at least the floor")
    func scaledByRecentAnswers() {
        let policy = CallPolicy()
        var recent = AnswerTimes()
        for _ in 0..<5 { recent.record(3) }
        #expect(policy.attemptTimeoutMillis(for: .query(.session), recent: recent) == policy.attemptTimeoutMinMillis)
        recent.record(40)
        #expect(policy.attemptTimeoutMillis(for: .query(.session), recent: recent) == 40 * policy.attemptTimeoutAnswerMultiple)
        recent.record(10_000)
        #expect(policy.attemptTimeoutMillis(for: .command(.logout), recent: recent) == policy.attemptTimeoutMillis)
    }

    @Test("password work always gets the full timeout")
    func passwordWorkIsNotCut() {
        let policy = CallPolicy()
        var recent = AnswerTimes()
        recent.record(1)
        #expect(policy.attemptTimeoutMillis(for: .login(userID: "a", password: "p", peerAddress: "127.0.0.1:1"), recent: recent) == policy.attemptTimeoutMillis)
        #expect(policy.attemptTimeoutMillis(for: .createUser(userID: "a", password: "p"), recent: recent) == policy.attemptTimeoutMillis)
    }

    @Test("a slow spell is forgotten after the ring turns over")
    func forgetsOldAnswers() {
        var recent = AnswerTimes()
        recent.record(900)
        for _ in 0..<AnswerTimes.kept { recent.record(5) }
        #expect(recent.typicalMillis == 5)
        recent.record(UInt64.max)
        #expect(CallPolicy().attemptTimeoutMillis(for: .query(.session), recent: recent) == CallPolicy().attemptTimeoutMillis)
    }
}
