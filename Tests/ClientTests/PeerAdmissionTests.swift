import PeerTransfer
import Testing

/// The peer server's connection accounting, driven directly with small bounds.
@Suite("peer server admission")
struct PeerAdmissionTests {
    static func small() -> PeerAdmission {
        var bounds = PeerAdmission.Bounds()
        bounds.uploadsMax = 2
        bounds.uploadsPerUserMax = 1
        bounds.unauthenticatedMax = 4
        bounds.unauthenticatedPerHostMax = 2
        bounds.closingMax = 3
        bounds.deadlineMillis = 1_000
        return PeerAdmission(bounds: bounds)
    }

    @Test("a connection takes an upload slot only once authorized; unauthenticated ones never block a member")
    func slotsAfterAuthentication() {
        var a = Self.small()
        var next = 1
        // A flood from 10.0.0.9 far beyond every bound: each newcomer closes that host's oldest.
        for _ in 0..<50 {
            if case .refused = a.arrive(id: next, host: "10.0.0.9", nowMillis: 0) { Issue.record("a newcomer was refused") }
            next += 1
            let closing = (1..<next).filter { a.standing(of: $0) == .closing }
            for id in closing { a.leave(id) }  // their threads end
        }
        #expect(a.servingCount == 0)
        #expect(a.unauthenticatedCount == 2, "the host's cap")
        // A member from the same host still gets in, and is served.
        #expect(a.arrive(id: 100, host: "10.0.0.9", nowMillis: 0) == .admitted(evicted: 49, cause: .hostUnauthenticatedCap))
        #expect(a.advance(100, to: .awaitingOpen) == true)
        #expect(a.advance(100, to: .authorizing) == true)
        #expect(a.authorize(100, userID: "bob") == .serving)
        #expect(a.servingCount == 1 && a.standing(of: 100) == .serving(userID: "bob"))
    }

    @Test("the newcomer closes the oldest not waiting for the tracker; a full pool closes the busiest host's")
    func evictionOrder() {
        var a = Self.small()
        _ = a.arrive(id: 1, host: "h1", nowMillis: 0)
        _ = a.arrive(id: 2, host: "h1", nowMillis: 0)
        #expect(a.advance(1, to: .awaitingOpen) == true)
        #expect(a.arrive(id: 7, host: "h1", nowMillis: 0) == .admitted(evicted: 1, cause: .hostUnauthenticatedCap),
                "a finished handshake is no protection: the oldest goes")
        a.leave(1)
        _ = a.arrive(id: 8, host: "h1", nowMillis: 0)
        #expect(a.standing(of: 2) == .closing && a.standing(of: 7) == .unauthenticated(.handshaking))
        a.leave(2)
        a.leave(7)
        a.leave(8)
        _ = a.arrive(id: 1, host: "h1", nowMillis: 0)
        _ = a.arrive(id: 2, host: "h1", nowMillis: 0)
        #expect(a.advance(1, to: .authorizing) == true)
        #expect(a.arrive(id: 3, host: "h1", nowMillis: 0) == .admitted(evicted: 2, cause: .hostUnauthenticatedCap),
                "the one still in the handshake goes before the older one waiting for the tracker")
        #expect(a.advance(2, to: .awaitingOpen) == false, "a closed connection cannot move on")
        a.leave(2)
        _ = a.arrive(id: 4, host: "h2", nowMillis: 0)
        _ = a.arrive(id: 5, host: "h2", nowMillis: 0)
        #expect(a.unauthenticatedCount == 4)
        #expect(a.arrive(id: 6, host: "h3", nowMillis: 0) == .admitted(evicted: 3, cause: .unauthenticatedFull),
                "h1 and h2 tie at two; h1 came first, and its handshaking one goes")
    }

    @Test("unauthenticated connections past the deadline are closed, served ones are not")
    func deadline() {
        var a = Self.small()
        _ = a.arrive(id: 1, host: "h1", nowMillis: 1_000)
        _ = a.arrive(id: 2, host: "h2", nowMillis: 1_500)
        _ = a.arrive(id: 3, host: "h3", nowMillis: 1_000)
        #expect(a.advance(3, to: .authorizing) && a.authorize(3, userID: "carol") == .serving)
        #expect(a.expire(nowMillis: 1_999) == [])
        #expect(a.expire(nowMillis: 2_000) == [1])
        #expect(a.expire(nowMillis: 0) == [], "an older reading (another thread's) never trips the deadline")
        #expect(a.expire(nowMillis: 2_600) == [2])
        #expect(a.standing(of: 3) == .serving(userID: "carol"))
        #expect(a.authorize(1, userID: "x") == .closed, "the tracker's late answer does not revive it")
    }

    @Test("upload slots are bounded in total and per user; a backlog of closing connections refuses newcomers")
    func slotBounds() {
        var a = Self.small()
        for id in 1...4 {
            _ = a.arrive(id: id, host: "h\(id)", nowMillis: 0)
            _ = a.advance(id, to: .authorizing)
        }
        #expect(a.authorize(1, userID: "u1") == .serving)
        #expect(a.authorize(2, userID: "u1") == .refused(.userCap))
        #expect(a.authorize(2, userID: "u2") == .serving)
        #expect(a.authorize(3, userID: "u3") == .refused(.uploadsFull))
        a.leave(1)
        #expect(a.authorize(3, userID: "u3") == .serving, "a slot is free again once its connection left")
        var b = Self.small()
        for id in 1...3 { _ = b.arrive(id: id, host: "h", nowMillis: 0) }
        _ = b.arrive(id: 4, host: "h", nowMillis: 0)
        _ = b.expire(nowMillis: 5_000)
        #expect(b.closingCount == 4, "two closed for newcomers, two past the deadline")
        #expect(b.arrive(id: 5, host: "h", nowMillis: 5_000) == .refused(.closingBacklog))
        b.leave(1)
        b.leave(2)
        #expect(b.arrive(id: 6, host: "h", nowMillis: 5_000) == .admitted(evicted: nil, cause: nil))
    }

    @Test("refusals are logged once per cause and interval, counting the ones left out")
    func refusalLog() {
        var log = RefusalLog(intervalMillis: 1_000)
        #expect(log.note(.badOpen, nowMillis: 5_000) == 0)
        #expect(log.note(.badOpen, nowMillis: 5_001) == nil)
        #expect(log.note(.badOpen, nowMillis: 4_000) == nil, "an older reading from another thread")
        #expect(log.note(.deadline, nowMillis: 5_002) == 0, "each cause has its own interval")
        #expect(log.note(.badOpen, nowMillis: 6_000) == 2)
        #expect(log.note(.badOpen, nowMillis: 6_001) == nil)
    }
}
