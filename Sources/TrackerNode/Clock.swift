import SystemClock

// tracker-node's names for the shared clock (SystemClock), so its files need no import.

/// Milliseconds of the monotonic clock (for timers).
func monotonicMillis() -> UInt64 { SystemClock.monotonicMillis() }

/// Nanoseconds of the monotonic clock, for latencies measured on one thread.
func monotonicNanos() -> UInt64 { SystemClock.monotonicNanos() }

/// Milliseconds of the wall clock (for session leases, which every tracker must read alike).
func wallMillis() -> UInt64 { SystemClock.wallMillis() }

/// Seconds from `start` to `end` nanoseconds; zero if the clock went back.
func seconds(fromNanos start: UInt64, to end: UInt64) -> Double { elapsedSeconds(fromNanos: start, to: end) }
