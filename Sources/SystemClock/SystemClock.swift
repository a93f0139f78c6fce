import Glibc

/// The process's clocks, read in one place. Monotonic readings are for timers and durations
/// (they never jump back); wall readings are for what must agree across machines (session
/// leases, log timestamps). Readings taken on different threads may arrive in either order:
/// subtract them with `elapsed(from:to:)`, never with a bare `-`.
public enum SystemClock {
    /// Milliseconds of the monotonic clock (an arbitrary origin, stable for the process).
    public static func monotonicMillis() -> UInt64 { read(CLOCK_MONOTONIC).millis }

    /// Microseconds of the monotonic clock.
    public static func monotonicMicros() -> UInt64 { read(CLOCK_MONOTONIC).micros }

    /// Nanoseconds of the monotonic clock.
    public static func monotonicNanos() -> UInt64 { read(CLOCK_MONOTONIC).nanos }

    /// Seconds of the monotonic clock, as a `Double` (for benchmarks).
    public static func monotonicSeconds() -> Double { Double(read(CLOCK_MONOTONIC).nanos) / 1e9 }

    /// Milliseconds of the wall clock since the Unix epoch.
    public static func wallMillis() -> UInt64 { read(CLOCK_REALTIME).millis }

    /// Seconds of CPU time (user and system) this thread has used (for benchmarks).
    public static func threadCPUSeconds() -> Double { Double(read(CLOCK_THREAD_CPUTIME_ID).nanos) / 1e9 }

    /// The wall clock as (seconds since the epoch, nanoseconds within the second).
    public static func wallTime() -> (seconds: Int, nanoseconds: Int) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return (Int(now.tv_sec), Int(now.tv_nsec))
    }

    private struct Reading {
        var seconds: UInt64
        var nanoseconds: UInt64
        var nanos: UInt64 { seconds &* 1_000_000_000 &+ nanoseconds }
        var micros: UInt64 { seconds &* 1_000_000 &+ nanoseconds / 1_000 }
        var millis: UInt64 { seconds &* 1_000 &+ nanoseconds / 1_000_000 }
    }

    private static func read(_ clock: clockid_t) -> Reading {
        var now = timespec()
        clock_gettime(clock, &now)
        // A clock before the epoch (or a failed read) reads as zero rather than trapping.
        return Reading(seconds: UInt64(clamping: now.tv_sec), nanoseconds: UInt64(clamping: now.tv_nsec))
    }
}

/// `end - start`, or zero when `end` is earlier: two clock readings never meet in an unsigned
/// subtraction that could trap (a reading taken on another thread may be the older one).
@inlinable
public func elapsed(from start: UInt64, to end: UInt64) -> UInt64 {
    end >= start ? end - start : 0
}

/// Seconds from `start` to `end` nanoseconds, zero when `end` is earlier.
@inlinable
public func elapsedSeconds(fromNanos start: UInt64, to end: UInt64) -> Double {
    Double(elapsed(from: start, to: end)) / 1e9
}
