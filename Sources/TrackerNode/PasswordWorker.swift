import Dispatch
import Foundation
import Hashing
import Synchronization
import TrackerHosting

/// Runs the slow password work (PBKDF2-HMAC-SHA256, 100,000 iterations) on a fixed set of
/// threads, one per core, so that it never stalls Raft and a login storm is checked at the speed
/// of the machine; jobs are taken first in, first out, and each outcome is posted back to the
/// event loop. The host bounds the jobs in flight (`passwordRequestsMax`), so the queue here
/// never grows past that and no job is ever dropped.
final class PasswordWorker: Sendable {
    /// The most threads, whatever the core count says.
    static let threadsMax = 16
    private let jobs = Mutex<[PasswordJob]>([])
    /// One signal per queued job.
    private let queued = DispatchSemaphore(value: 0)
    private let inputs: BlockingQueue<Input>
    /// How many threads check passwords.
    let threadCount: Int

    init(inputs: BlockingQueue<Input>, threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.inputs = inputs
        threadCount = min(Self.threadsMax, max(1, threads))
    }

    func start() {
        for index in 0..<threadCount {
            let thread = Thread { [self] in run() }
            thread.name = "password-\(index)"
            thread.start()
        }
    }

    func submit(_ batch: [PasswordJob]) {
        guard !batch.isEmpty else { return }
        jobs.withLock { $0.append(contentsOf: batch) }
        for _ in batch { queued.signal() }
    }

    private func run() {
        while true {
            queued.wait()
            guard let job = jobs.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { continue }
            inputs.push(.passwordDone(id: job.id, outcome: Self.perform(job.work)))
        }
    }

    static func perform(_ work: PasswordJob.Work) -> PasswordOutcome {
        do {
            switch work {
            case let .hash(password):
                let salt = try PasswordHash.makeSalt()
                return .hashed(salt: salt, passwordHash: try PasswordHash.derive(password: password, salt: salt))
            case let .verify(password, salt, passwordHash):
                let isMatch = try PasswordHash.verify(password: password, salt: salt, iterations: PasswordHash.iterationCount,
                                                      expected: passwordHash)
                return .verified(isMatch: isMatch)
            }
        } catch {
            Log.error("password work failed", ["error": "\(error)"])
            // An empty salt is refused by the state machine, and an empty token by the host:
            // the client gets an error, and nothing wrong is stored.
            if case .hash = work { return .hashed(salt: [], passwordHash: []) }
            return .verified(isMatch: false)
        }
    }
}
