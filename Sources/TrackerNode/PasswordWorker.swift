import Foundation
import Hashing
import TrackerHosting

/// Runs the slow password work (PBKDF2-HMAC-SHA256, 100,000 iterations) on a thread of its own
/// so that it never stalls Raft, and posts each outcome back to the event loop.
final class PasswordWorker: Sendable {
    private let jobs = BlockingQueue<PasswordJob>(capacity: 10_000)
    private let inputs: BlockingQueue<Input>

    init(inputs: BlockingQueue<Input>) { self.inputs = inputs }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "password-worker"
        thread.start()
    }

    func submit(_ batch: [PasswordJob]) { jobs.push(contentsOf: batch) }

    private func run() {
        while true {
            for job in jobs.drain(timeoutMillis: nil) {
                inputs.push(.passwordDone(id: job.id, outcome: Self.perform(job.work)))
            }
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
