import Testing
@testable import TrackerStateMachine

@Suite("Exactly once")
struct ExactlyOnceTests {
    static let create = TrackerCommand.createUser(userID: "alice", salt: Harness.salt, passwordHash: Harness.passwordHash)

    @Test("a repeated request is answered from the cache and applied once")
    func repeatIsCached() throws {
        var m = TrackerStateMachine()
        let login = CommandEnvelope(clientID: 5, sequence: 2, command: .openSession(userID: "alice", tokenHash: tok(1), peerAddress: addr(1), nowMillis: 10))
        #expect(m.apply(CommandEnvelope(clientID: 5, sequence: 1, command: Self.create)) == .ok(.done))
        let first = m.apply(login)
        let afterFirst = m.state
        // Another client logs alice in elsewhere; a replay of the first login must not undo it.
        #expect(m.apply(CommandEnvelope(clientID: 6, sequence: 1, command: .openSession(userID: "alice", tokenHash: tok(2), peerAddress: addr(2), nowMillis: 20))).isOK)
        let afterOther = m.state
        #expect(afterOther != afterFirst)
        #expect(m.apply(login) == first)
        #expect(m.state == afterOther)
        m.checkInvariants()
        #expect(m.cachedResult(clientID: 5)?.sequence == 2)
    }

    @Test("a failed request is cached too: its retry gets the same error even if it would now succeed")
    func failureIsCached() {
        var m = TrackerStateMachine()
        let login = CommandEnvelope(clientID: 5, sequence: 1, command: .openSession(userID: "alice", tokenHash: tok(1), peerAddress: addr(1), nowMillis: 10))
        let refused = m.apply(login)
        #expect(refused == .failure(.noSuchUser, "alice"))
        _ = m.apply(CommandEnvelope(clientID: 6, sequence: 1, command: Self.create))
        let before = m.state
        #expect(m.apply(login) == refused)
        #expect(m.state == before)
    }

    @Test("an older sequence is refused as stale; client 0 is never cached")
    func staleAndUncached() {
        var m = TrackerStateMachine()
        _ = m.apply(CommandEnvelope(clientID: 5, sequence: 3, command: Self.create))
        #expect(m.apply(CommandEnvelope(clientID: 5, sequence: 2, command: Self.create)).isOK == false)
        if case let .failed(error) = m.apply(CommandEnvelope(clientID: 5, sequence: 1, command: Self.create)) {
            #expect(error.code == .staleRequest)
        } else {
            Issue.record("expected staleRequest")
        }
        let create = CommandEnvelope(clientID: 0, sequence: 1, command: .createUser(userID: "bob", salt: Harness.salt, passwordHash: Harness.passwordHash))
        #expect(m.apply(create) == .ok(.done))
        #expect(m.apply(create) == .failure(.userExists, "bob"))
        #expect(m.cachedClientCount == 1)
    }

    @Test("the least recently used client is forgotten first, in log order")
    func eviction() {
        var limits = Limits.standard
        limits.clientsMax = 2
        var m = TrackerStateMachine(limits: limits)
        let expire = TrackerCommand.expireSessions(nowMillis: 0)
        _ = m.apply(CommandEnvelope(clientID: 1, sequence: 1, command: expire))
        _ = m.apply(CommandEnvelope(clientID: 2, sequence: 1, command: expire))
        _ = m.apply(CommandEnvelope(clientID: 1, sequence: 1, command: expire)) // a retry refreshes client 1
        _ = m.apply(CommandEnvelope(clientID: 3, sequence: 1, command: expire))
        m.checkInvariants()
        #expect(m.cachedResult(clientID: 1) != nil)
        #expect(m.cachedResult(clientID: 2) == nil)
        #expect(m.cachedResult(clientID: 3) != nil)
        for i in 0..<3_000 { _ = m.apply(CommandEnvelope(clientID: UInt64(4 + i % 3), sequence: UInt64(1 + i / 3), command: expire)) }
        m.checkInvariants()
        #expect(m.cachedClientCount == 2)
    }

    @Test("an undecodable log entry is refused alike everywhere and changes nothing but the count")
    func undecodable() {
        var m = TrackerStateMachine()
        let before = m
        #expect(m.apply(encoded: [1, 2, 3]).isOK == false)
        #expect(m.state == before.state)
        #expect(m.appliedCount == 1)
        let envelope = CommandEnvelope(clientID: 9, sequence: 1, command: Self.create)
        #expect(m.apply(encoded: envelope.encode()) == .ok(.done))
    }
}

@Suite("Exactly once, bounded")
struct ExactlyOnceBoundTests {
    @Test("retries and new requests of few clients keep the cache's bookkeeping bounded")
    func usageQueueBounded() {
        var m = TrackerStateMachine()
        let expire = TrackerCommand.expireSessions(nowMillis: 0)
        for i in 0..<20_000 {
            let clientID = UInt64(1 + i % 3)
            _ = m.apply(CommandEnvelope(clientID: clientID, sequence: UInt64(1 + i / 6), command: expire))
        }
        m.checkInvariants()
        #expect(m.cachedClientCount == 3)
        #expect(m.clients.queuedPairCount <= 2 * 1_024 + 6)
    }
}
