import Testing
@testable import TrackerStateMachine

@Suite("Per-user quotas")
struct QuotaTests {
    @Test("groups owned: refused at the quota, freed when a group is deleted or handed on; an heir may exceed it")
    func groupsOwned() {
        var limits = Limits.standard
        limits.groupsOwnedPerUserMax = 2
        var h = Harness(limits: limits)
        let a = h.login("alice", 1), b = h.login("bob", 2)
        var expected = h.state
        h.ok(.createGroup(tokenHash: a, groupID: "g1"))
        h.ok(.createGroup(tokenHash: a, groupID: "g2"))
        expected.groups["g1"] = Group(members: ["alice"])
        expected.groups["g2"] = Group(members: ["alice"])
        #expect(h.state == expected)
        #expect(h.state.usage(of: "alice") == UserUsage(groupsOwned: 2))
        h.refused(.createGroup(tokenHash: a, groupID: "g3"), .limitReached)
        h.ok(.leaveGroup(tokenHash: a, groupID: "g1"))
        expected.groups["g1"] = nil
        #expect(h.state == expected)
        #expect(h.state.usage(of: "alice") == UserUsage(groupsOwned: 1))
        h.ok(.createGroup(tokenHash: a, groupID: "g3"))
        expected.groups["g3"] = Group(members: ["alice"])
        // bob owns two groups and inherits alice's two: leaving is never refused by a quota.
        h.ok(.createGroup(tokenHash: b, groupID: "b1"))
        h.ok(.createGroup(tokenHash: b, groupID: "b2"))
        expected.groups["b1"] = Group(members: ["bob"])
        expected.groups["b2"] = Group(members: ["bob"])
        for id in ["g2", "g3"] {
            h.ok(.joinGroup(tokenHash: b, groupID: id))
            h.ok(.acceptRequest(tokenHash: a, groupID: id, userID: "bob"))
            h.ok(.leaveGroup(tokenHash: a, groupID: id))
            expected.groups[id] = Group(members: ["bob"])
        }
        #expect(h.state == expected)
        #expect(h.state.usage(of: "alice") == UserUsage())
        #expect(h.state.usage(of: "bob") == UserUsage(groupsOwned: 4))
        h.refused(.createGroup(tokenHash: b, groupID: "b3"), .limitReached)
        h.ok(.leaveGroup(tokenHash: b, groupID: "b1"))
        h.ok(.leaveGroup(tokenHash: b, groupID: "b2"))
        h.refused(.createGroup(tokenHash: b, groupID: "b3"), .limitReached)
        h.ok(.leaveGroup(tokenHash: b, groupID: "g2"))
        h.ok(.createGroup(tokenHash: b, groupID: "b3"))
        #expect(h.state.usage(of: "bob") == UserUsage(groupsOwned: 2))
    }

    @Test("pending join requests: refused at the quota, freed by acceptance, withdrawal and the group's deletion")
    func pendingRequests() {
        var limits = Limits.standard
        limits.pendingRequestsPerUserMax = 2
        var h = Harness(limits: limits)
        let a = h.login("alice", 1), c = h.login("carol", 3)
        for id in ["g1", "g2", "g3", "g4"] { h.ok(.createGroup(tokenHash: a, groupID: id)) }
        var expected = h.state
        h.ok(.joinGroup(tokenHash: c, groupID: "g1"))
        h.ok(.joinGroup(tokenHash: c, groupID: "g2"))
        expected.groups["g1"]!.pendingRequests = ["carol"]
        expected.groups["g2"]!.pendingRequests = ["carol"]
        #expect(h.state == expected)
        #expect(h.state.usage(of: "carol") == UserUsage(pendingRequests: 2))
        h.refused(.joinGroup(tokenHash: c, groupID: "g3"), .limitReached)
        h.ok(.acceptRequest(tokenHash: a, groupID: "g1", userID: "carol"))
        expected.groups["g1"] = Group(members: ["alice", "carol"])
        #expect(h.state == expected)
        #expect(h.state.usage(of: "carol") == UserUsage(pendingRequests: 1))
        h.ok(.joinGroup(tokenHash: c, groupID: "g3"))
        h.refused(.joinGroup(tokenHash: c, groupID: "g4"), .limitReached)
        // Withdrawing a pending request (leave_group while pending) frees it.
        h.ok(.leaveGroup(tokenHash: c, groupID: "g3"))
        expected.groups["g3"]!.pendingRequests = []
        #expect(h.state == expected)
        #expect(h.state.usage(of: "carol") == UserUsage(pendingRequests: 1))
        h.ok(.joinGroup(tokenHash: c, groupID: "g4"))
        // The last member leaving deletes the group with its requests.
        h.ok(.leaveGroup(tokenHash: a, groupID: "g2"))
        expected.groups["g2"] = nil
        expected.groups["g4"]!.pendingRequests = ["carol"]
        #expect(h.state == expected)
        #expect(h.state.usage(of: "carol") == UserUsage(pendingRequests: 1))
        #expect(h.state.usage(of: "alice") == UserUsage(groupsOwned: 3))
        h.ok(.joinGroup(tokenHash: c, groupID: "g3"))
        h.refused(.leaveGroup(tokenHash: c, groupID: "g2"), .noSuchGroup)
    }

    @Test("files shared: refused at the quota for a new file, a second copy and a first announce; freed by stop_share and leave")
    func filesShared() {
        var limits = Limits.standard
        limits.filesSharedPerUserMax = 2
        var (h, a, b, _) = FileTests.setUp(limits: limits)
        h.ok(.createGroup(tokenHash: b, groupID: "g2"))
        var expected = h.state
        h.ok(.uploadFile(tokenHash: b, groupID: "g1", metadata: meta("f1")))
        h.ok(.uploadFile(tokenHash: b, groupID: "g2", metadata: meta("f2")))
        let complete = PieceBitfield.complete(pieceCount: 3)
        expected.groups["g1"]!.files["f1"] = StoredFile(metadata: meta("f1"), sharers: [Sharer(userID: "bob", pieces: complete)])
        expected.groups["g2"]!.files["f2"] = StoredFile(metadata: meta("f2"), sharers: [Sharer(userID: "bob", pieces: complete)])
        #expect(h.state == expected)
        #expect(h.state.usage(of: "bob") == UserUsage(groupsOwned: 1, filesShared: 2))
        h.ok(.uploadFile(tokenHash: a, groupID: "g1", metadata: meta("f3")))
        h.ok(.uploadFile(tokenHash: b, groupID: "g1", metadata: meta("f1"))) // a sharer already: no new share
        h.refused(.uploadFile(tokenHash: b, groupID: "g1", metadata: meta("f4")), .limitReached)
        h.refused(.uploadFile(tokenHash: b, groupID: "g1", metadata: meta("f3")), .limitReached)
        h.refused(.announcePieces(tokenHash: b, groupID: "g1", fileName: "f3", pieces: [0x80]), .limitReached)
        expected.groups["g1"]!.files["f3"] = StoredFile(metadata: meta("f3"), sharers: [Sharer(userID: "alice", pieces: complete)])
        #expect(h.state == expected)
        h.ok(.stopShare(tokenHash: b, groupID: "g2", fileName: "f2"))
        expected.groups["g2"]!.files["f2"] = nil
        #expect(h.state.usage(of: "bob") == UserUsage(groupsOwned: 1, filesShared: 1))
        h.ok(.announcePieces(tokenHash: b, groupID: "g1", fileName: "f3", pieces: [0x80]))
        expected.groups["g1"]!.files["f3"]!.sharers.append(Sharer(userID: "bob", pieces: [0x80]))
        #expect(h.state == expected)
        #expect(h.state.usage(of: "bob") == UserUsage(groupsOwned: 1, filesShared: 2))
        h.ok(.leaveGroup(tokenHash: b, groupID: "g1"))
        expected.groups["g1"]!.members = ["alice"]
        expected.groups["g1"]!.files["f1"] = nil
        expected.groups["g1"]!.files["f3"]!.sharers.removeLast()
        #expect(h.state == expected)
        #expect(h.state.usage(of: "bob") == UserUsage(groupsOwned: 1))
        #expect(h.state.usage(of: "alice") == UserUsage(groupsOwned: 1, filesShared: 1))
    }

    @Test("usage that disagrees with a fresh count, or an emptied entry left behind, breaks the invariants")
    func usageChecked() {
        var (h, a, _, _) = FileTests.setUp()
        h.ok(.uploadFile(tokenHash: a, groupID: "g1", metadata: meta("f")))
        #expect(h.machine.invariantViolation() == nil)
        var off = h.machine
        off.state.usage["alice"]!.filesShared += 1
        #expect(off.invariantViolation()?.hasPrefix("usage of alice") == true)
        var empty = h.machine
        empty.state.usage["carol"] = UserUsage()
        #expect(empty.invariantViolation() == "an empty usage entry for carol")
        var ghost = h.machine
        ghost.state.usage["alice"] = nil
        #expect(ghost.invariantViolation() != nil)
    }
}
