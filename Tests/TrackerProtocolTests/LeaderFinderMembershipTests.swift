import Testing
import TrackerProtocol

@Suite("Leader finder: trackers outside the seed list")
struct LeaderFinderMembershipTests {
    static func finder() -> LeaderFinder {
        LeaderFinder(trackers: [.init(id: 1, address: "h1:1"), .init(id: 2, address: "h2:1")], seed: 7)
    }

    @Test("a redirect to a tracker the seed list lacks adds it, and the next attempt goes there")
    func redirectAddsTracker() {
        var finder = Self.finder()
        let decision = CallPolicy().decide(.answered(.redirect(leader: 4, address: "h4:1")), finder: &finder)
        #expect(decision == .retry(afterMillis: 0, problem: "redirected to tracker 4"))
        #expect(finder.target == .init(id: 4, address: "h4:1"))
        #expect(finder.trackers.map(\.id) == [1, 2, 4])
    }

    @Test("a redirect naming a known tracker at a new address moves it; an empty or overlong address adds nothing")
    func addressesFollowRedirects() {
        var finder = Self.finder()
        _ = finder.redirected(to: 2, address: "moved:9")
        #expect(finder.target == .init(id: 2, address: "moved:9"))
        var other = Self.finder()
        _ = other.redirected(to: 5, address: "")
        _ = other.redirected(to: 6, address: String(repeating: "a", count: 256))
        #expect(other.trackers.map(\.id) == [1, 2])
    }

    @Test("the trackers a finder learns are bounded")
    func bounded() {
        var finder = Self.finder()
        for id in UInt64(10)..<200 { _ = finder.redirected(to: id, address: "h\(id):1"); finder.succeeded() }
        #expect(finder.trackers.count == LeaderFinder.trackersMax)
    }
}
