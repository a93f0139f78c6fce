import Testing
@testable import TrackerStateMachine

@Suite("Groups")
struct GroupTests {
    /// alice (token 1) owns g1; bob (2) and carol (3) are logged in, not members.
    static func setUp() -> (Harness, TokenHash, TokenHash, TokenHash) {
        var h = Harness()
        let a = h.login("alice", 1), b = h.login("bob", 2), c = h.login("carol", 3)
        h.ok(.createGroup(tokenHash: a, groupID: "g1"))
        return (h, a, b, c)
    }

    @Test("create_group makes the creator owner and only member")
    func createGroup() {
        var (h, _, b, _) = Self.setUp()
        var expected = h.state
        h.ok(.createGroup(tokenHash: b, groupID: "g2"))
        expected.groups["g2"] = Group(members: ["bob"])
        #expect(h.state == expected)
        #expect(h.query(.listGroups(tokenHash: b)) == .ok(.groups(Page(items: [
            GroupSummary(groupID: "g1", ownerID: "alice", memberCount: 1),
            GroupSummary(groupID: "g2", ownerID: "bob", memberCount: 1),
        ]))))
    }

    @Test("create_group refuses: not logged in, taken id, bad id, too many groups")
    func createGroupErrors() {
        var limits = Limits.standard
        limits.groupsMax = 1
        var h = Harness(limits: limits)
        let a = h.login("alice", 1)
        h.refused(.createGroup(tokenHash: tok(99), groupID: "g1"), .notLoggedIn)
        h.ok(.createGroup(tokenHash: a, groupID: "g1"))
        h.refused(.createGroup(tokenHash: a, groupID: "g1"), .groupExists)
        h.refused(.createGroup(tokenHash: a, groupID: "a/b"), .invalidInput)
        h.refused(.createGroup(tokenHash: a, groupID: "g2"), .limitReached)
        #expect(h.query(.listGroups(tokenHash: tok(99))) == .failure(.notLoggedIn))
    }

    @Test("join_group queues a request; list_requests (sorted by user id) and accept_request are the owner's")
    func joinAndAccept() {
        var (h, a, b, c) = Self.setUp()
        h.ok(.joinGroup(tokenHash: c, groupID: "g1"))
        h.ok(.joinGroup(tokenHash: b, groupID: "g1"))
        var expected = h.state
        #expect(expected.groups["g1"] == Group(members: ["alice"], pendingRequests: ["carol", "bob"]))
        #expect(h.query(.listRequests(tokenHash: a, groupID: "g1")) == .ok(.requests(Page(items: ["bob", "carol"]))))
        #expect(h.query(.listRequests(tokenHash: b, groupID: "g1")) == .failure(.notOwner, "g1"))
        #expect(h.query(.listRequests(tokenHash: b, groupID: "nope")) == .failure(.noSuchGroup, "nope"))
        h.ok(.acceptRequest(tokenHash: a, groupID: "g1", userID: "bob"))
        expected.groups["g1"] = Group(members: ["alice", "bob"], pendingRequests: ["carol"])
        #expect(h.state == expected)
    }

    @Test("join_group refuses: member, pending, no such group, not logged in, too many requests")
    func joinErrors() {
        var limits = Limits.standard
        limits.pendingRequestsPerGroupMax = 1
        var h = Harness(limits: limits)
        let a = h.login("alice", 1), b = h.login("bob", 2), c = h.login("carol", 3)
        h.ok(.createGroup(tokenHash: a, groupID: "g1"))
        h.refused(.joinGroup(tokenHash: a, groupID: "g1"), .alreadyMember)
        h.ok(.joinGroup(tokenHash: b, groupID: "g1"))
        h.refused(.joinGroup(tokenHash: b, groupID: "g1"), .alreadyPending)
        h.refused(.joinGroup(tokenHash: c, groupID: "g1"), .limitReached)
        h.refused(.joinGroup(tokenHash: c, groupID: "g9"), .noSuchGroup)
        h.refused(.joinGroup(tokenHash: tok(99), groupID: "g1"), .notLoggedIn)
        h.refused(.joinGroup(tokenHash: c, groupID: "g 1"), .invalidInput)
    }

    @Test("accept_request refuses: not owner, no such request, no such group, too many members")
    func acceptErrors() {
        var limits = Limits.standard
        limits.membersPerGroupMax = 2
        var h = Harness(limits: limits)
        let a = h.login("alice", 1), b = h.login("bob", 2), c = h.login("carol", 3)
        h.ok(.createGroup(tokenHash: a, groupID: "g1"))
        h.ok(.joinGroup(tokenHash: b, groupID: "g1"))
        h.ok(.joinGroup(tokenHash: c, groupID: "g1"))
        h.refused(.acceptRequest(tokenHash: b, groupID: "g1", userID: "bob"), .notOwner)
        h.refused(.acceptRequest(tokenHash: a, groupID: "g1", userID: "dave"), .noSuchRequest)
        h.refused(.acceptRequest(tokenHash: a, groupID: "g9", userID: "bob"), .noSuchGroup)
        h.refused(.acceptRequest(tokenHash: a, groupID: "g1", userID: "bad/user"), .invalidInput)
        h.ok(.acceptRequest(tokenHash: a, groupID: "g1", userID: "bob"))
        h.refused(.acceptRequest(tokenHash: a, groupID: "g1", userID: "carol"), .limitReached)
        h.refused(.acceptRequest(tokenHash: tok(99), groupID: "g1", userID: "carol"), .notLoggedIn)
    }

    @Test("leave_group: the owner leaving hands ownership to the longest-standing member; the leaver's shares end")
    func ownerLeaves() {
        var (h, a, b, c) = Self.setUp()
        for (token, id) in [(c, "carol"), (b, "bob")] {
            h.ok(.joinGroup(tokenHash: token, groupID: "g1"))
            h.ok(.acceptRequest(tokenHash: a, groupID: "g1", userID: id))
        }
        h.ok(.uploadFile(tokenHash: a, groupID: "g1", metadata: meta("only-alice")))
        h.ok(.uploadFile(tokenHash: a, groupID: "g1", metadata: meta("both")))
        h.ok(.uploadFile(tokenHash: b, groupID: "g1", metadata: meta("both")))
        var expected = h.state
        h.ok(.leaveGroup(tokenHash: a, groupID: "g1"))
        expected.groups["g1"]!.members = ["carol", "bob"]
        expected.groups["g1"]!.files["only-alice"] = nil
        expected.groups["g1"]!.files["both"]!.sharers.removeFirst()
        #expect(h.state == expected)
        #expect(h.query(.listGroups(tokenHash: a)) == .ok(.groups(Page(items: [GroupSummary(groupID: "g1", ownerID: "carol", memberCount: 2)]))))
    }

    @Test("leave_group by the last member deletes the group; non-members are refused")
    func lastLeaves() {
        var (h, a, b, _) = Self.setUp()
        h.refused(.leaveGroup(tokenHash: b, groupID: "g1"), .notMember)
        h.refused(.leaveGroup(tokenHash: a, groupID: "g9"), .noSuchGroup)
        h.refused(.leaveGroup(tokenHash: tok(99), groupID: "g1"), .notLoggedIn)
        var expected = h.state
        h.ok(.joinGroup(tokenHash: b, groupID: "g1"))
        h.ok(.leaveGroup(tokenHash: a, groupID: "g1"))
        expected.groups["g1"] = nil
        #expect(h.state == expected)
    }
}
