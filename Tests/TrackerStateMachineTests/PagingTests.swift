import Testing
@testable import TrackerStateMachine

@Suite("Paged listings and bounded peers")
struct PagingTests {
    /// Every page of a listing, asked with `limit` per page; fails the test on an error.
    static func pages<Item>(_ h: Harness, limit: UInt32, _ query: (PageRequest) -> TrackerQuery,
                            _ page: (TrackerReply) -> Page<Item>?) -> [Page<Item>] {
        var pages: [Page<Item>] = []
        var request = PageRequest(limit: limit)
        for _ in 0..<100 {
            guard case let .ok(reply) = h.query(query(request)), let next = page(reply) else {
                Issue.record("listing failed at page \(pages.count + 1)")
                return pages
            }
            pages.append(next)
            guard let cursor = next.nextCursor else { return pages }
            request = PageRequest(after: cursor, limit: limit)
        }
        Issue.record("listing did not end")
        return pages
    }

    static func groupPages(_ h: Harness, _ token: TokenHash, limit: UInt32) -> [Page<GroupSummary>] {
        pages(h, limit: limit, { .listGroups(tokenHash: token, page: $0) }) { if case let .groups(p) = $0 { p } else { nil } }
    }

    /// alice (1) logged in, owning groups with the given ids.
    static func withGroups(_ ids: [String], limits: Limits = .standard) -> (Harness, TokenHash) {
        var h = Harness(limits: limits)
        let a = h.login("alice", 1)
        for id in ids { h.ok(.createGroup(tokenHash: a, groupID: id)) }
        return (h, a)
    }

    @Test("list_groups pages return every group exactly once, in order, with hasMore exactly when more follow")
    func groupsPaged() {
        let ids = ["m", "b", "zz", "a", "q", "c", "k"]
        let (h, a) = Self.withGroups(ids)
        let pages = Self.groupPages(h, a, limit: 3)
        #expect(pages.map { $0.items.map(\.groupID) } == [["a", "b", "c"], ["k", "m", "q"], ["zz"]])
        #expect(pages.map(\.hasMore) == [true, true, false])
        #expect(pages[0].items[0] == GroupSummary(groupID: "a", ownerID: "alice", memberCount: 1))
        // A listing that ends exactly at a page boundary says so on that page, not one later.
        let even = Self.groupPages(h, a, limit: 7)
        #expect(even.count == 1 && even[0].hasMore == false && even[0].items.map(\.groupID) == ids.sorted())
        let six = Self.groupPages(Self.withGroups(Array(ids.prefix(6))).0, a, limit: 3)
        #expect(six.map(\.hasMore) == [true, false])
        #expect(Self.groupPages(Self.withGroups([]).0, a, limit: 3) == [Page(items: [])])
    }

    @Test("a cursor naming a group deleted since still gives the groups after it")
    func deletedCursor() {
        var (h, a) = Self.withGroups(["a", "b", "c", "d", "e"])
        guard case let .ok(.groups(first)) = h.query(.listGroups(tokenHash: a, page: PageRequest(limit: 2))) else {
            Issue.record("first page failed")
            return
        }
        #expect(first.nextCursor == "b")
        h.ok(.leaveGroup(tokenHash: a, groupID: "b"))
        h.ok(.leaveGroup(tokenHash: a, groupID: "c"))
        let next = h.query(.listGroups(tokenHash: a, page: PageRequest(after: "b", limit: 2)))
        #expect(next == .ok(.groups(Page(items: [GroupSummary(groupID: "d", ownerID: "alice", memberCount: 1),
                                                 GroupSummary(groupID: "e", ownerID: "alice", memberCount: 1)]))))
        let beyond = h.query(.listGroups(tokenHash: a, page: PageRequest(after: "zzz", limit: 2)))
        #expect(beyond == .ok(.groups(Page(items: []))))
    }

    @Test("the page limit is cut to pageItemsMax; a limit of 0 and a bad cursor are refused")
    func limitCapped() {
        var limits = Limits.standard
        limits.pageItemsMax = 4
        let (h, a) = Self.withGroups((0..<10).map { "g\($0)" }, limits: limits)
        for limit: UInt32 in [5, 100, .max] {
            guard case let .ok(.groups(page)) = h.query(.listGroups(tokenHash: a, page: PageRequest(limit: limit))) else {
                Issue.record("listing failed")
                return
            }
            #expect(page.items.map(\.groupID) == ["g0", "g1", "g2", "g3"])
            #expect(page.hasMore)
        }
        #expect(Self.groupPages(h, a, limit: .max).map(\.items.count) == [4, 4, 2])
        #expect(h.query(.listGroups(tokenHash: a, page: PageRequest(limit: 0))).errorCode == .invalidInput)
        #expect(h.query(.listGroups(tokenHash: a, page: PageRequest(after: "a/b"))).errorCode == .invalidInput)
        #expect(h.query(.listGroups(tokenHash: a, page: PageRequest(after: ""))).errorCode == .invalidInput)
        #expect(h.query(.listGroups(tokenHash: tok(99), page: PageRequest(limit: 0))).errorCode == .notLoggedIn)
    }

    @Test("list_files and list_requests page the same way, sorted by name and user id")
    func filesAndRequestsPaged() {
        var (h, a) = Self.withGroups(["g"])
        for name in ["f3", "f1", "f5", "f2", "f4"] { h.ok(.uploadFile(tokenHash: a, groupID: "g", metadata: meta(name))) }
        for (n, id) in ["dave", "bob", "erin", "carol"].enumerated() {
            let token = h.login(id, UInt64(10 + n))
            h.ok(.joinGroup(tokenHash: token, groupID: "g"))
        }
        let files = Self.pages(h, limit: 2, { .listFiles(tokenHash: a, groupID: "g", page: $0) }) { if case let .files(p) = $0 { p } else { nil } }
        #expect(files.map { $0.items.map(\.name) } == [["f1", "f2"], ["f3", "f4"], ["f5"]])
        #expect(files.map(\.hasMore) == [true, true, false])
        #expect(files[0].items[0] == FileSummary(name: "f1", sizeBytes: meta("f1").sizeBytes, onlineSharerCount: 1))
        let requests = Self.pages(h, limit: 3, { .listRequests(tokenHash: a, groupID: "g", page: $0) }) { if case let .requests(p) = $0 { p } else { nil } }
        #expect(requests == [Page(items: ["bob", "carol", "dave"], hasMore: true), Page(items: ["erin"])])
        #expect(h.query(.listFiles(tokenHash: a, groupID: "g", page: PageRequest(limit: 0))).errorCode == .invalidInput)
        #expect(h.query(.listRequests(tokenHash: a, groupID: "g", page: PageRequest(after: "x y"))).errorCode == .invalidInput)
    }

    @Test("the first-keys selection equals sorting and filtering, for any sizes and cursors", arguments: [1, 2, 3] as [UInt64])
    func firstKeysMatchesSorting(seed: UInt64) {
        var rng = seed
        func next(_ bound: Int) -> Int {
            rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((rng >> 33) % UInt64(bound))
        }
        for _ in 0..<200 {
            let keys = Set((0..<next(300)).map { _ in "k\(next(1_000))" })
            let cursor: String? = next(4) == 0 ? nil : "k\(next(1_000))"
            let count = 1 + next(40)
            let got = Paging.firstKeys(of: keys, after: cursor, count: count)
            let after = keys.filter { cursor == nil || $0 > cursor! }.sorted()
            #expect(got.keys == Array(after.prefix(count)))
            #expect(got.hasMore == (after.count > count))
        }
    }

    @Test("collect fetches every page up to its cap, says exactly when it cut, and refuses pages that do not advance")
    func collect() throws {
        let (h, a) = Self.withGroups((0..<25).map { "g\($0)" })
        func fetch(_ limit: UInt32) -> (PageRequest) throws -> Page<GroupSummary> {
            { page in
                guard case let .ok(.groups(p)) = h.query(.listGroups(tokenHash: a, page: PageRequest(after: page.after, limit: limit))) else {
                    throw PagingError(cursor: "failed")
                }
                return p
            }
        }
        let all = (0..<25).map { "g\($0)" }.sorted()
        for limit: UInt32 in [1, 4, 5, 25, 100] {
            let whole = try Page<GroupSummary>.collect(upTo: 100, fetch(limit))
            #expect(whole.items.map(\.groupID) == all && !whole.isCut)
            let exact = try Page<GroupSummary>.collect(upTo: 25, fetch(limit))
            #expect(exact.items.count == 25 && !exact.isCut)
            let cut = try Page<GroupSummary>.collect(upTo: 24, fetch(limit))
            #expect(cut.items.map(\.groupID) == Array(all.prefix(24)) && cut.isCut)
        }
        let stuck = Page(items: [GroupSummary(groupID: "a", ownerID: "x", memberCount: 1)], hasMore: true)
        #expect(throws: PagingError(cursor: "a")) { try Page<GroupSummary>.collect(upTo: 100) { _ in stuck } }
        func group(_ id: String) -> GroupSummary { GroupSummary(groupID: id, ownerID: "x", memberCount: 1) }
        // Out of order: every page starts after the cursor but ends before it.
        let backwards = Page(items: [group("b"), group("a")], hasMore: true)
        #expect(throws: PagingError(cursor: "a")) { try Page<GroupSummary>.collect(upTo: 100) { _ in backwards } }
        // Advancing cursors, but a page starts at or before the cursor: items would repeat.
        var calls = 0
        #expect(throws: PagingError(cursor: "c")) {
            try Page<GroupSummary>.collect(upTo: 100) { _ in
                calls += 1
                return Page(items: [group("a"), group(calls == 1 ? "c" : "d")], hasMore: true)
            }
        }
    }

    @Test("download peers: at most downloadPeersMax online sharers after the asker, wrapping, and a count of the rest")
    func downloadPeersBounded() {
        var limits = Limits.standard
        limits.downloadPeersMax = 2
        var h = Harness(limits: limits)
        let ids = ["alice", "bob", "carol", "dave", "erin", "frank"]
        var tokens: [String: TokenHash] = [:]
        for (n, id) in ids.enumerated() { tokens[id] = h.login(id, UInt64(n + 1)) }
        h.ok(.createGroup(tokenHash: tokens["alice"]!, groupID: "g"))
        for id in ids.dropFirst() {
            h.ok(.joinGroup(tokenHash: tokens[id]!, groupID: "g"))
            h.ok(.acceptRequest(tokenHash: tokens["alice"]!, groupID: "g", userID: id))
        }
        let m = meta("f")
        for id in ids where id != "carol" { h.ok(.uploadFile(tokenHash: tokens[id]!, groupID: "g", metadata: m)) }
        h.ok(.logout(tokenHash: tokens["erin"]!)) // sharers online: alice, bob, dave, frank
        func peers(_ asker: String) -> ([String], UInt32)? {
            guard case let .ok(.download(info)) = h.query(.downloadInfo(tokenHash: tokens[asker]!, groupID: "g", fileName: "f")) else { return nil }
            return (info.peers.map(\.userID), info.omittedPeerCount)
        }
        #expect(peers("carol")! == (["dave", "frank"], 2))
        #expect(peers("dave")! == (["frank", "alice"], 1))
        #expect(peers("frank")! == (["alice", "bob"], 1))
        #expect(peers("alice")! == (["bob", "dave"], 1))
        guard case let .ok(.download(info)) = h.query(.downloadInfo(tokenHash: tokens["carol"]!, groupID: "g", fileName: "f")) else { return }
        #expect(info == DownloadInfo(metadata: m, peers: [PeerInfo(userID: "dave", peerAddress: addr(4), pieces: [0xE0]),
                                                          PeerInfo(userID: "frank", peerAddress: addr(6), pieces: [0xE0])],
                                     omittedPeerCount: 2))
    }
}
