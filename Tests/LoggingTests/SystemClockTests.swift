import SystemClock
import Testing

@Suite("SystemClock")
struct SystemClockTests {
    @Test("elapsed saturates at zero when the later reading is the older one, and never traps")
    func elapsedSaturates() {
        #expect(elapsed(from: 10, to: 25) == 15)
        #expect(elapsed(from: 25, to: 10) == 0)
        #expect(elapsed(from: .max, to: 0) == 0)
        #expect(elapsed(from: 0, to: .max) == .max)
    }

    @Test("the monotonic clock does not go back and its units agree; the wall clock is after 2024")
    func readings() {
        let millis = SystemClock.monotonicMillis()
        let micros = SystemClock.monotonicMicros()
        let nanos = SystemClock.monotonicNanos()
        #expect(micros / 1_000 >= millis && micros / 1_000 - millis < 1_000)
        #expect(nanos / 1_000 >= micros && nanos / 1_000 - micros < 1_000_000)
        #expect(SystemClock.monotonicMillis() >= millis)
        #expect(SystemClock.wallMillis() > 1_704_067_200_000)
        let wall = SystemClock.wallTime()
        #expect((0..<1_000_000_000).contains(wall.nanoseconds))
    }
}
