import ProcessHarness
import Consensus
import Foundation
import Testing

@Suite("tracker-node membership processes", .serialized)
struct MembershipProcessTests {
    @Test("a fourth tracker joins as a learner under a write stream, is promoted once caught up, and holds every acknowledged write")
    func growThreeToFour() throws {
        let cluster = try TrackerCluster()
        defer { cluster.stop() }
        try cluster.startAll()
        let port = try freePort()
        let client = try cluster.client(extra: [4: port])
        _ = try #require(try cluster.waitForLeader(using: client)?.id)
        let stream = WriteStream(client: try cluster.client(extra: [4: port]))
        defer { stream.stop() }
        #expect(stream.waitFor(more: 20))
        try cluster.startJoining(4, port: port)
        let added = try cluster.member(["add", "--id", "4", "--address", "127.0.0.1:\(port)"])
        #expect(added.status == 0, "\(added.output)")
        #expect(added.output.contains("4 127.0.0.1:\(port) learner") || added.output.contains("4 127.0.0.1:\(port) voter"))
        #expect(try cluster.waitForMembers { $0[4] == "voter" }, "promoted automatically")
        #expect(stream.waitFor(more: 20), "writes go on after the promotion")
        stream.stop()
        #expect(cluster.waitCaughtUp(4, port: port, client: client))
        try expectAllAcknowledged([stream], client: client)
    }

    @Test("removing the leader hands leadership over first and answers with the configuration without it; writes go on")
    func removeLeader() throws {
        let cluster = try TrackerCluster()
        defer { cluster.stop() }
        try cluster.startAll()
        let client = try cluster.client()
        let leader = try #require(try cluster.waitForLeader(using: client)?.id)
        let stream = WriteStream(client: try cluster.client())
        defer { stream.stop() }
        #expect(stream.waitFor(more: 10))
        let removed = try cluster.member(["remove", "--id", "\(leader)"])
        #expect(removed.status == 0, "\(removed.output)")
        #expect(!removed.output.contains("\(leader) 127.0.0.1"))
        #expect(removed.output.split(separator: "\n").count == 2)
        #expect(stream.waitFor(more: 10), "writes go on at the new leader")
        let next = try #require(try cluster.waitForLeader(using: client)?.id)
        #expect(next != leader)
        // Unknown ids and the last-voter rule answer with a reason and exit 1.
        let unknown = try cluster.member(["remove", "--id", "9"])
        #expect(unknown.status == 1 && unknown.output.contains("not a member"))
        stream.stop()
        try expectAllAcknowledged([stream], client: client)
    }

    @Test("a dead tracker is replaced by a new one (remove, then add a learner that is promoted); the new one counts for the quorum")
    func replaceDeadTracker() throws {
        let cluster = try TrackerCluster()
        defer { cluster.stop() }
        try cluster.startAll()
        let port = try freePort()
        let client = try cluster.client(extra: [4: port])
        let leader = try #require(try cluster.waitForLeader(using: client)?.id)
        let dead = cluster.ids.first { $0 != leader }!
        let stream = WriteStream(client: try cluster.client(extra: [4: port]))
        defer { stream.stop() }
        #expect(stream.waitFor(more: 10))
        cluster.kill(dead)
        try cluster.startJoining(4, port: port)
        let replaced = try cluster.member(["replace", "--id", "\(dead)", "--new-id", "4", "--address", "127.0.0.1:\(port)"])
        #expect(replaced.status == 0, "\(replaced.output)")
        #expect(try cluster.waitForMembers { $0[4] == "voter" && $0[dead] == nil })
        #expect(stream.waitFor(more: 10))
        // An original survivor that is not the leader goes too: the other two (4 among them)
        // are a quorum of {the two survivors, 4} only if 4 counts.
        let current = try #require(try cluster.waitForLeader(extra: [4: port], client: client))
        let other = cluster.ids.first { $0 != current && $0 != dead }!
        cluster.kill(other)
        #expect(stream.waitFor(more: 10), "the new tracker counts toward the quorum")
        stream.stop()
        try expectAllAcknowledged([stream], client: client)
    }

    @Test("a tracker restarted with an empty data directory is refused under its old identity (it does not count for the quorum), and rejoins as a new learner")
    func wipedTrackerRefusedThenReadded() throws {
        let cluster = try TrackerCluster()
        defer { cluster.stop() }
        try cluster.startAll()
        let client = try cluster.client(deadlineMillis: 3_000)
        let leader = try #require(try cluster.waitForLeader(using: client)?.id)
        let stream = WriteStream(client: try cluster.client())
        defer { stream.stop() }
        #expect(stream.waitFor(more: 20))
        let wiped = cluster.ids.first { $0 != leader }!
        let third = cluster.ids.first { $0 != leader && $0 != wiped }!
        cluster.kill(wiped)
        try cluster.wipeKeepingIdentity(wiped) // the TLS identity comes back from a backup; the data identity does not
        try cluster.start(wiped)
        usleep(1_000_000)
        #expect(cluster.log(leader).contains("sender's incarnation is not the one its membership pins"))
        // The wiped tracker is no voter: with the third one down, the leader has no quorum.
        cluster.kill(third)
        #expect(!stream.waitFor(more: 1, timeoutMillis: 2_000), "a write committed with the wiped tracker counted as its old self")
        try cluster.start(third)
        #expect(stream.waitFor(more: 5, timeoutMillis: 15_000))
        let removed = try cluster.member(["remove", "--id", "\(wiped)"])
        #expect(removed.status == 0, "\(removed.output)")
        let added = try cluster.member(["add", "--id", "\(wiped)", "--address", "127.0.0.1:\(cluster.ports[wiped]!)"])
        #expect(added.status == 0, "\(added.output)")
        #expect(try cluster.waitForMembers { $0[wiped] == "voter" })
        #expect(cluster.waitCaughtUp(wiped, port: cluster.ports[wiped]!, client: client))
        stream.stop()
        try expectAllAcknowledged([stream], client: try cluster.client())
    }

    @Test("3 → 5 → 3 while a client keeps writing: every acknowledged write is present at the end")
    func threeFiveThree() throws {
        let cluster = try TrackerCluster()
        defer { cluster.stop() }
        try cluster.startAll()
        let extra: [NodeID: UInt16] = [4: try freePort(), 5: try freePort()]
        let client = try cluster.client(extra: extra)
        _ = try #require(try cluster.waitForLeader(using: client)?.id)
        let stream = WriteStream(client: try cluster.client(extra: extra))
        defer { stream.stop() }
        #expect(stream.waitFor(more: 10))
        for id: NodeID in [4, 5] {
            try cluster.startJoining(id, port: extra[id]!)
            let added = try cluster.member(["add", "--id", "\(id)", "--address", "127.0.0.1:\(extra[id]!)"])
            #expect(added.status == 0, "\(added.output)")
            #expect(try cluster.waitForMembers { $0[id] == "voter" })
            #expect(stream.waitFor(more: 10))
        }
        #expect(try cluster.members().values.filter { $0 == "voter" }.count == 5)
        for id: NodeID in [1, 2] {
            let removed = try cluster.member(["remove", "--id", "\(id)"])
            #expect(removed.status == 0, "\(removed.output)")
            #expect(stream.waitFor(more: 10))
        }
        #expect(try cluster.members() == [3: "voter", 4: "voter", 5: "voter"])
        stream.stop()
        try expectAllAcknowledged([stream], client: client)
    }

    @Test("two full trackers and a witness become three full trackers: the witness is removed, a full tracker added and promoted")
    func witnessReplacedByFullTracker() throws {
        let cluster = try TrackerCluster(witness: 3)
        defer { cluster.stop() }
        try cluster.startAll()
        let port = try freePort()
        let client = try cluster.client(extra: [4: port])
        _ = try #require(try cluster.waitForLeader(using: client)?.id)
        let stream = WriteStream(client: try cluster.client(extra: [4: port]))
        defer { stream.stop() }
        #expect(stream.waitFor(more: 10))
        #expect(try cluster.member(["remove", "--id", "3"]).status == 0)
        cluster.kill(3)
        try cluster.startJoining(4, port: port)
        #expect(try cluster.member(["add", "--id", "4", "--address", "127.0.0.1:\(port)"]).status == 0)
        #expect(try cluster.waitForMembers { $0 == [1: "voter", 2: "voter", 4: "voter"] })
        // Three full copies: either of the original two may now die.
        let leader = try #require(try cluster.waitForLeader(extra: [4: port], client: client))
        cluster.kill(leader == 1 ? 2 : 1)
        #expect(stream.waitFor(more: 10))
        stream.stop()
        try expectAllAcknowledged([stream], client: client)
    }
}
