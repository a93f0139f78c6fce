#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Reports which seed was running when tracker-sim traps.
///
/// A broken precondition stops a release build with SIGILL (x86_64) or SIGTRAP (arm64) and no
/// message, so a sweep of thousands of seeds would lose the one that failed. The sweep stores
/// each seed in an atomic before running it (one relaxed store per seed: free), and a handler
/// for those signals writes `tracker-sim: trapped while running seed N` with `write(2)` only
/// (async-signal-safe: no allocation, no locks, no stdio), then puts the previous handler back
/// and returns, so the faulting instruction traps again into the Swift runtime's backtracer or
/// the default action. `--progress` (a line per seed) covers what no handler sees: a hang, or
/// a kill by the OOM killer or a timeout.
enum TrapReporter {
    /// The seed running now; 0 before the first.
    static let currentSeed = Atomic<UInt64>(0)

    /// Installs the handler for SIGILL and SIGTRAP.
    static func install() {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { signal in TrapReporter.report(signal) }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(SIGILL, &action, &previousIllegal)
        sigaction(SIGTRAP, &action, &previousTrap)
    }

    /// Runs in the signal handler: async-signal-safe calls only.
    static func report(_ signal: Int32) {
        let prefix: StaticString = "tracker-sim: trapped while running seed "
        _ = write(2, prefix.utf8Start, prefix.utf8CodeUnitCount)
        writeNumberLine(currentSeed.load(ordering: .relaxed))
        if signal == SIGILL {
            sigaction(SIGILL, &previousIllegal, nil)
        } else {
            sigaction(SIGTRAP, &previousTrap, nil)
        }
    }

    /// Writes `value` and a newline to stderr without allocating.
    static func writeNumberLine(_ value: UInt64) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { buffer in
            var rest = value
            var start = 23
            buffer[start] = 0x0A
            repeat {
                start -= 1
                buffer[start] = UInt8(0x30 + rest % 10)
                rest /= 10
            } while rest > 0
            _ = write(2, buffer.baseAddress! + start, 24 - start)
        }
    }
}

// Written once by `TrapReporter.install` before the handler can run; afterwards only the handler
// reads them (and a trap stops every other use), so no lock is needed, and a signal handler
// could not take one anyway.
nonisolated(unsafe) private var previousIllegal = sigaction()
nonisolated(unsafe) private var previousTrap = sigaction()
