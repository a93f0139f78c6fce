import Testing
@testable import TrackerStateMachine

@Suite("Users and sessions")
struct UserSessionTests {
    @Test("create_user registers a user with its salt and hash only")
    func createUser() {
        var h = Harness()
        h.addUser("alice")
        var expected = TrackerState()
        expected.users["alice"] = user()
        #expect(h.state == expected)
        #expect(h.query(.credentials(userID: "alice")) == .ok(.credentials(salt: Harness.salt, passwordHash: Harness.passwordHash)))
    }

    @Test("create_user refuses a taken id, bad names, bad salt and hash sizes, and too many users")
    func createUserErrors() {
        var limits = Limits.standard
        limits.usersMax = 2
        var h = Harness(limits: limits)
        h.addUser("alice")
        h.refused(.createUser(userID: "alice", salt: Harness.salt, passwordHash: Harness.passwordHash), .userExists)
        for bad in ["", "a/b", "a b", "tab\t", "é", ".", "..", String(repeating: "x", count: 65)] {
            h.refused(.createUser(userID: bad, salt: Harness.salt, passwordHash: Harness.passwordHash), .invalidInput)
        }
        h.refused(.createUser(userID: "bob", salt: [1], passwordHash: Harness.passwordHash), .invalidInput)
        h.refused(.createUser(userID: "bob", salt: Harness.salt, passwordHash: [2]), .invalidInput)
        h.addUser(String(repeating: "x", count: 64))
        h.refused(.createUser(userID: "carol", salt: Harness.salt, passwordHash: Harness.passwordHash), .limitReached)
        #expect(h.query(.credentials(userID: "nobody")) == .failure(.noSuchUser, "nobody"))
    }

    @Test("login opens a session bound to the peer address with a lease; a second login replaces the first")
    func login() {
        var h = Harness()
        let first = h.login("alice", 1)
        var expected = TrackerState()
        expected.users["alice"] = user()
        expected.sessions[first] = session("alice", 1)
        expected.sessionOfUser["alice"] = first
        #expect(h.state == expected)
        let second = tok(2)
        h.ok(.openSession(userID: "alice", tokenHash: second, peerAddress: addr(2), nowMillis: Harness.now + 5))
        expected.sessions = [second: session("alice", 2, expiry: Harness.now + 5 + 30_000)]
        expected.sessionOfUser["alice"] = second
        #expect(h.state == expected)
        #expect(h.query(.session(tokenHash: first)) == .failure(.notLoggedIn))
    }

    @Test("login refuses unknown users, reused tokens, bad tokens and bad peer addresses")
    func loginErrors() {
        var h = Harness()
        h.refused(.openSession(userID: "ghost", tokenHash: tok(1), peerAddress: addr(1), nowMillis: 0), .noSuchUser)
        h.login("alice", 1)
        h.addUser("bob")
        h.refused(.openSession(userID: "bob", tokenHash: tok(1), peerAddress: addr(2), nowMillis: 0), .tokenInUse)
        h.refused(.openSession(userID: "bob", tokenHash: TokenHash([1, 2]), peerAddress: addr(2), nowMillis: 0), .invalidInput)
        for bad in ["10.0.0.1", ":80", "10.0.0.1:0", "10.0.0.1:65536", "10.0.0.1:x", "a b:1", "h/x:1", "1.2.3.4:"] {
            h.refused(.openSession(userID: "bob", tokenHash: tok(2), peerAddress: bad, nowMillis: 0), .invalidInput)
        }
        h.refused(.openSession(userID: "bad/id", tokenHash: tok(2), peerAddress: addr(2), nowMillis: 0), .invalidInput)
    }

    @Test("keepalive extends the lease and never shrinks it; unknown tokens are not logged in")
    func keepAlive() {
        var h = Harness()
        let token = h.login("alice", 1)
        let later = Harness.now + 10_000
        #expect(h.ok(.keepAlive(tokenHash: token, nowMillis: later)) == .session(SessionInfo(userID: "alice", peerAddress: addr(1), leaseExpiryMillis: later + 30_000)))
        var expected = h.state
        h.ok(.keepAlive(tokenHash: token, nowMillis: Harness.now))
        #expect(h.state == expected)
        expected.sessions[token]!.leaseExpiryMillis = UInt64.max
        h.ok(.keepAlive(tokenHash: token, nowMillis: UInt64.max - 1))
        #expect(h.state == expected)
        h.refused(.keepAlive(tokenHash: tok(9), nowMillis: later), .notLoggedIn)
    }

    @Test("logout ends the session; logging out twice is not logged in")
    func logout() {
        var h = Harness()
        let token = h.login("alice", 1)
        h.ok(.logout(tokenHash: token))
        var expected = TrackerState()
        expected.users["alice"] = user()
        #expect(h.state == expected)
        h.refused(.logout(tokenHash: token), .notLoggedIn)
    }

    @Test("expireSessions ends exactly the listed sessions that still exist; the leader's lease rule picks them")
    func expire() {
        var h = Harness()
        let a = h.login("alice", 1)
        let b = h.login("bob", 2)
        var expected = h.state
        // The leader's choice: alice's login lease ran out; bob renewed in the leader's memory.
        let renewals: [TokenHash: UInt64] = [b: Harness.now + 50_000]
        let none = h.state.expiredSessions(nowMillis: Harness.now + 29_999, floorMillis: 0, limit: 10) { renewals[$0] }
        #expect(none.isEmpty)
        let due = h.state.expiredSessions(nowMillis: Harness.now + 30_000, floorMillis: 0, limit: 10) { renewals[$0] }
        #expect(due == [a])
        #expect(h.state.expiredSessions(nowMillis: Harness.now + 30_000, floorMillis: Harness.now + 40_000, limit: 10) { renewals[$0] }.isEmpty,
                "a new leader's floor gives every session a full lease")
        #expect(h.ok(.expireSessions(tokenHashes: due + [tok(99)], nowMillis: Harness.now + 30_000)) == .expiredSessions(count: 1))
        expected.sessions[a] = nil
        expected.sessionOfUser["alice"] = nil
        #expect(h.state == expected)
        #expect(h.query(.listGroups(tokenHash: a)) == .failure(.notLoggedIn))
        #expect(h.ok(.expireSessions(tokenHashes: [a], nowMillis: Harness.now + 31_000)) == .expiredSessions(count: 0), "already gone")
    }
}
