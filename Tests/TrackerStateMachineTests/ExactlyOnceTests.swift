import Testing
@testable import TrackerStateMachine

func createUser(_ id: String) -> TrackerCommand {
    .createUser(userID: id, salt: Harness.salt, passwordHash: Harness.passwordHash)
}

func login(_ id: String, _ n: UInt64, now: UInt64 = Harness.now) -> TrackerCommand {
    .openSession(userID: id, tokenHash: tok(n), peerAddress: addr(n), nowMillis: now)
}

/// Applies one envelope and checks the invariants after it.
@discardableResult
func apply(_ m: inout TrackerStateMachine, _ clientID: UInt64, _ sequence: UInt64, _ command: TrackerCommand) -> TrackerResult {
    let result = m.apply(CommandEnvelope(clientID: clientID, sequence: sequence, command: command))
    m.checkInvariants()
    return result
}

@Suite("Exactly once")
struct ExactlyOnceTests {
    @Test("a repeated request is answered from the cache and applied once")
    func repeatIsCached() throws {
        var m = TrackerStateMachine()
        #expect(apply(&m, 5, 1, createUser("alice")) == .ok(.done))
        let first = apply(&m, 5, 2, login("alice", 1, now: 10))
        let afterFirst = m.state
        // Another client logs alice in elsewhere; a replay of the first login must not undo it.
        #expect(apply(&m, 6, 1, login("alice", 2, now: 20)).isOK)
        let afterOther = m.state
        #expect(afterOther != afterFirst)
        #expect(apply(&m, 5, 2, login("alice", 1, now: 10)) == first)
        #expect(m.state == afterOther)
        #expect(m.cachedResult(for: LoginClientKey(clientID: 5, userID: "alice"))?.sequence == 2)
        // Under the session, a repeat of a group creation is answered from the cache too.
        let create = TrackerCommand.createGroup(tokenHash: tok(2), groupID: "g")
        #expect(apply(&m, 6, 2, create) == .ok(.done))
        let created = m.state
        #expect(apply(&m, 6, 2, create) == .ok(.done))
        #expect(m.state == created)
        #expect(m.cachedResult(for: SessionClientKey(tokenHash: tok(2), clientID: 6))?.sequence == 2)
    }

    @Test("a failed request is cached too: its retry gets the same error even if it would now succeed")
    func failureIsCached() {
        var m = TrackerStateMachine()
        let refused = apply(&m, 5, 1, login("alice", 1, now: 10))
        #expect(refused == .failure(.noSuchUser, "alice"))
        apply(&m, 6, 1, createUser("alice"))
        let before = m.state
        #expect(apply(&m, 5, 1, login("alice", 1, now: 10)) == refused)
        #expect(m.state == before)
    }

    @Test("under a session an older sequence is refused as stale; client 0 is never cached")
    func staleAndUncached() {
        var h = Harness()
        let a = h.login("alice", 1)
        var m = h.machine
        #expect(apply(&m, 5, 3, .createGroup(tokenHash: a, groupID: "g1")) == .ok(.done))
        let before = m.state
        #expect(apply(&m, 5, 2, .createGroup(tokenHash: a, groupID: "g2")) == .failure(.staleRequest, "sequence 2 < last 3"))
        #expect(m.state == before)
        let counts = m.cachedClientCount
        #expect(apply(&m, 0, 1, createUser("bob")) == .ok(.done))
        #expect(apply(&m, 0, 1, createUser("bob")) == .failure(.userExists, "bob"))
        #expect(m.cachedClientCount == counts)
    }

    @Test("a sniffed client id sent with sequence UInt64.max under another session, or none, cannot block the victim")
    func sniffedClientID() {
        var h = Harness()
        let victim = h.login("alice", 1), stranger = h.login("mallory", 2)
        var m = h.machine
        #expect(apply(&m, 5, 3, .createGroup(tokenHash: victim, groupID: "g1")) == .ok(.done))
        // The stranger replays the victim's client id with the largest sequence, under its own
        // session and under a made-up token (which names no session).
        #expect(apply(&m, 5, UInt64.max, .keepAlive(tokenHash: stranger, nowMillis: Harness.now)).isOK)
        #expect(apply(&m, 5, UInt64.max, .createGroup(tokenHash: tok(77), groupID: "x")) == .failure(.notLoggedIn))
        var expected = m.state
        #expect(apply(&m, 5, 4, .createGroup(tokenHash: victim, groupID: "g2")) == .ok(.done))
        expected.groups["g2"] = Group(members: ["alice"])
        #expect(m.state == expected)
        #expect(m.cachedResult(for: SessionClientKey(tokenHash: victim, clientID: 5))?.sequence == 4)
        #expect(m.cachedResult(for: SessionClientKey(tokenHash: stranger, clientID: 5))?.sequence == UInt64.max)
        #expect(m.cachedResult(for: SessionClientKey(tokenHash: tok(77), clientID: 5)) == nil, "a made-up token leaves no trace")
    }

    @Test("a stranger with the victim's client id and user id cannot block its create_user or login")
    func sniffedLogin() {
        var m = TrackerStateMachine()
        // The stranger goes first with the victim's ids and the largest sequence.
        #expect(apply(&m, 5, UInt64.max, login("carol", 9)) == .failure(.noSuchUser, "carol"))
        var expected = m.state
        #expect(apply(&m, 5, 1, createUser("carol")) == .ok(.done))
        expected.users["carol"] = user()
        #expect(m.state == expected)
        #expect(apply(&m, 5, UInt64.max, createUser("carol")) == .failure(.userExists, "carol"))
        #expect(m.state == expected)
        #expect(apply(&m, 5, 2, login("carol", 1)) == .ok(.session(SessionInfo(userID: "carol", peerAddress: addr(1),
                                                                                   leaseExpiryMillis: Harness.now + 30_000))))
        expected.sessions[tok(1)] = session("carol", 1)
        expected.sessionOfUser["carol"] = tok(1)
        #expect(m.state == expected)
        // The worst a stranger can do: the victim's retry runs afresh, harmlessly.
        #expect(apply(&m, 5, UInt64.max, createUser("carol")) == .failure(.userExists, "carol"))
        #expect(apply(&m, 5, 1, createUser("carol")) == .failure(.userExists, "carol"))
        #expect(m.state == expected)
        // A bad user id is refused alike each time and never recorded.
        #expect(apply(&m, 5, 3, createUser("a/b")).errorCode == .invalidInput)
        #expect(m.cachedResult(for: LoginClientKey(clientID: 5, userID: "a/b")) == nil)
    }

    @Test("the retry of a logout, after its session ended, still gets its answer")
    func retryAfterSessionEnded() {
        var h = Harness()
        let a = h.login("alice", 1)
        var m = h.machine
        #expect(apply(&m, 5, 1, .logout(tokenHash: a)) == .ok(.done))
        let after = m.state
        #expect(apply(&m, 5, 1, .logout(tokenHash: a)) == .ok(.done))
        #expect(m.state == after)
        #expect(apply(&m, 5, 2, .logout(tokenHash: a)) == .failure(.notLoggedIn))
    }

    @Test("each table forgets its least recently used key first, in log order, and logins never evict sessions")
    func eviction() {
        var limits = Limits.standard
        limits.clientsMax = 2
        limits.loginClientsMax = 2
        var h = Harness(limits: limits)
        let a = h.login("alice", 1)
        var m = h.machine
        let keepAlive = TrackerCommand.keepAlive(tokenHash: a, nowMillis: Harness.now)
        apply(&m, 1, 1, keepAlive)
        apply(&m, 2, 1, keepAlive)
        apply(&m, 1, 1, keepAlive) // a retry refreshes client 1
        apply(&m, 3, 1, keepAlive)
        #expect(m.cachedResult(for: SessionClientKey(tokenHash: a, clientID: 1)) != nil)
        #expect(m.cachedResult(for: SessionClientKey(tokenHash: a, clientID: 2)) == nil)
        #expect(m.cachedResult(for: SessionClientKey(tokenHash: a, clientID: 3)) != nil)
        for i in 0..<50 { apply(&m, UInt64(100 + i), 1, createUser("nobody\(i % 3)")) }
        #expect(m.cachedClientCount == (sessions: 2, logins: 2))
        #expect(m.cachedResult(for: SessionClientKey(tokenHash: a, clientID: 1)) != nil)
        #expect(m.cachedResult(for: LoginClientKey(clientID: 149, userID: "nobody1")) != nil)
        for i in 0..<3_000 { apply(&m, UInt64(4 + i % 3), UInt64(1 + i / 3), keepAlive) }
        #expect(m.cachedClientCount == (sessions: 2, logins: 2))
    }

    @Test("an undecodable log entry is refused alike everywhere and changes nothing but the count")
    func undecodable() {
        var m = TrackerStateMachine()
        let before = m
        #expect(m.apply(encoded: [1, 2, 3]).isOK == false)
        #expect(m.state == before.state)
        #expect(m.appliedCount == 1)
        let envelope = CommandEnvelope(clientID: 9, sequence: 1, command: createUser("alice"))
        #expect(m.apply(encoded: envelope.encode()) == .ok(.done))
    }

    @Test("a broken exactly-once table is caught by the invariants")
    func brokenTableCaught() {
        var h = Harness()
        let a = h.login("alice", 1)
        var m = h.machine
        apply(&m, 5, 1, .keepAlive(tokenHash: a, nowMillis: Harness.now)) // stamp 3
        #expect(m.invariantViolation() == nil)
        func recordLogin(_ userID: String, stamp: UInt64) -> String? {
            var broken = m
            broken.loginClients.record(LoginClientKey(clientID: 5, userID: userID), sequence: 1, result: .ok(.done), stamp: stamp, capacity: 10)
            return broken.invariantViolation()
        }
        #expect(recordLogin("bob", stamp: 4) == "login clients: an entry stamped outside 1...3")
        #expect(recordLogin("bob", stamp: 1) == "login clients: recency list is not in stamp order")
        #expect(recordLogin("a b", stamp: 3) == "a cached login client with a bad user id")
        #expect(recordLogin("bob", stamp: 3) == "two cached results with one stamp")
        var wrongStamp = m
        wrongStamp.sessionClients.record(SessionClientKey(tokenHash: a, clientID: 6), sequence: 1, result: .ok(.done),
                                         stamp: m.appliedCount + 1, capacity: 10)
        #expect(wrongStamp.invariantViolation() == "session clients: an entry stamped outside 1...3")
    }
}

@Suite("Exactly once, bounded")
struct ExactlyOnceBoundTests {
    @Test("retries and new requests of few clients keep the cache's bookkeeping bounded")
    func usageQueueBounded() {
        var h = Harness()
        let a = h.login("alice", 1)
        var m = h.machine
        let keepAlive = TrackerCommand.keepAlive(tokenHash: a, nowMillis: Harness.now)
        for i in 0..<20_000 {
            let clientID = UInt64(1 + i % 3)
            _ = m.apply(CommandEnvelope(clientID: clientID, sequence: UInt64(1 + i / 6), command: keepAlive))
        }
        m.checkInvariants()
        #expect(m.cachedClientCount.sessions == 3)
        #expect(m.sessionClients.slotCount == 3)
    }
}

@Suite("Exactly-once table")
struct ClientTableTests {
    @Test("records, touches and evictions match a naive least-recently-used model", arguments: [1, 2, 3] as [UInt64])
    func matchesModel(seed: UInt64) {
        var rng = seed
        func next(_ bound: Int) -> Int {
            rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((rng >> 33) % UInt64(bound))
        }
        let capacity = 1 + next(12)
        var table = ClientTable<UInt64>()
        var model: [UInt64: (sequence: UInt64, stamp: UInt64)] = [:]
        for stamp in UInt64(1)...3_000 {
            let key = UInt64(next(20))
            if next(3) == 0, model[key] != nil {
                table.touch(key, stamp: stamp)
                model[key]!.stamp = stamp
            } else {
                table.record(key, sequence: stamp, result: .ok(.done), stamp: stamp, capacity: capacity)
                model[key] = (stamp, stamp)
                while model.count > capacity {
                    let oldest = model.min { $0.value.stamp < $1.value.stamp }!.key
                    model[oldest] = nil
                }
            }
            #expect(table.violation(capacity: capacity, appliedCount: stamp) == nil)
            #expect(table.count == model.count)
            #expect(table.slotCount <= capacity + 1, "a new key takes a slot before the oldest is forgotten")
            for (key, value) in model {
                #expect(table[key] == ClientTable<UInt64>.Entry(sequence: value.sequence, result: .ok(.done), lastUsedStamp: value.stamp))
            }
        }
        let rebuilt = ClientTable(entries: table.sortedEntries())
        #expect(rebuilt == table)
        #expect(rebuilt.violation(capacity: capacity, appliedCount: 3_000) == nil)
    }
}
