import TestSupport
import Testing
@testable import TrackerStateMachine

/// A machine driven as one client (id 7) with increasing sequence numbers; every step checks
/// the invariants and that the result survives its binary encoding.
struct Harness {
    var machine: TrackerStateMachine
    var sequence: UInt64 = 0
    static let clientID: UInt64 = 7
    static let salt = [UInt8](repeating: 1, count: 16)
    static let passwordHash = [UInt8](repeating: 2, count: 32)
    static let now: UInt64 = 1_000_000

    init(limits: Limits = .standard) { machine = TrackerStateMachine(limits: limits) }

    var state: TrackerState { machine.state }

    @discardableResult
    mutating func run(_ command: TrackerCommand) -> TrackerResult {
        sequence += 1
        let envelope = CommandEnvelope(clientID: Self.clientID, sequence: sequence, command: command)
        let result = machine.apply(envelope)
        machine.checkInvariants()
        #expect((try? TrackerResult.decode(result.encode())) == result)
        #expect((try? CommandEnvelope.decode(envelope.encode())) == envelope)
        return result
    }

    /// Runs a command that must succeed and returns its reply.
    @discardableResult
    mutating func ok(_ command: TrackerCommand, sourceLocation: SourceLocation = #_sourceLocation) -> TrackerReply? {
        let result = run(command)
        guard case let .ok(reply) = result else {
            Issue.record("expected success, got \(result)", sourceLocation: sourceLocation)
            return nil
        }
        return reply
    }

    /// Runs a command that must be refused with `code` and leave the domain state unchanged.
    mutating func refused(_ command: TrackerCommand, _ code: TrackerError.Code, sourceLocation: SourceLocation = #_sourceLocation) {
        let before = machine.state
        let result = run(command)
        guard case let .failed(error) = result, error.code == code else {
            Issue.record("expected \(code), got \(result)", sourceLocation: sourceLocation)
            return
        }
        #expect(!error.message.isEmpty, sourceLocation: sourceLocation)
        #expect(machine.state == before, "a refused command changed the state", sourceLocation: sourceLocation)
    }

    func query(_ query: TrackerQuery) -> TrackerResult {
        let result = machine.query(query)
        #expect((try? TrackerResult.decode(result.encode())) == result)
        return result
    }

    mutating func addUser(_ id: String) { ok(.createUser(userID: id, salt: Self.salt, passwordHash: Self.passwordHash)) }

    /// Creates (if needed) and logs in `id` with token number `n`, peer address 10.0.0.n:600n.
    @discardableResult
    mutating func login(_ id: String, _ n: UInt64, create: Bool = true) -> TokenHash {
        if create { addUser(id) }
        let token = tok(n)
        ok(.openSession(userID: id, tokenHash: token, peerAddress: addr(n), nowMillis: Self.now))
        return token
    }
}

func tok(_ n: UInt64) -> TokenHash { RandomWorkload.tokenHash(n) }
func addr(_ n: UInt64) -> String { "10.0.0.\(n):\(6000 + n)" }
func meta(_ name: String, variant: Int = 0, pieces: Int = 3) -> FileMetadata {
    RandomWorkload.metadata(name: name, variant: variant, pieceCount: pieces)
}
func user() -> User { User(salt: Harness.salt, passwordHash: Harness.passwordHash) }
func session(_ id: String, _ n: UInt64, expiry: UInt64 = Harness.now + Limits.standard.sessionLeaseMillis) -> Session {
    Session(userID: id, peerAddress: addr(n), leaseExpiryMillis: expiry)
}
