import ProcessHarness
import Consensus
import Foundation
import Testing
import TrackerClient
import TrackerProtocol

/// Two full trackers (1, 2) and a witness (3), as cluster.conf's `3 ... witness` line makes them.
@Suite("tracker-node witness processes", .serialized)
struct WitnessProcessTests {
    static func makeCluster() throws -> TrackerCluster { try TrackerCluster(witness: 3) }

    /// The status of the full tracker `id`.
    static func status(_ cluster: TrackerCluster, _ id: NodeID, _ client: TrackerClient) -> TrackerStatus? {
        ((try? cluster.statuses(using: client)) ?? []).first { $0.id == id }
    }

    @Test("kill -9 of either full tracker under a write stream: writes resume, every acknowledged write survives, the killed one catches up to an identical copy")
    func eitherFullTrackerDies() throws {
        let cluster = try Self.makeCluster()
        defer { cluster.stop() }
        try cluster.startAll()
        let client = try cluster.client()
        _ = try #require(try cluster.waitForLeader(using: client)?.id)
        #expect(try cluster.members() == [1: "voter", 2: "voter", 3: "witness"])
        let stream = WriteStream(client: try cluster.client())
        defer { stream.stop() }
        #expect(stream.waitFor(more: 20))
        for round in 0..<2 {
            let leader = try #require(try cluster.waitForLeader(using: client)?.id)
            // Round 0 kills the leader, round 1 the follower.
            let victim: NodeID = round == 0 ? leader : (leader == 1 ? 2 : 1)
            cluster.kill(victim)
            #expect(stream.waitFor(more: 20), "writes resume with one full tracker and the witness (round \(round))")
            try cluster.start(victim)
            #expect(cluster.waitCaughtUp(victim, port: cluster.ports[victim]!, client: client), "round \(round)")
        }
        stream.stop()
        try expectAllAcknowledged([stream], client: client)
        // Both full copies end at the same applied index and log.
        let deadline = Date().addingTimeInterval(10)
        var same = false
        while Date() < deadline && !same {
            if let a = Self.status(cluster, 1, client), let b = Self.status(cluster, 2, client) {
                same = a.appliedIndex == b.appliedIndex && a.lastIndex == b.lastIndex && a.commitIndex == a.appliedIndex
            }
            usleep(50_000)
        }
        #expect(same)
    }

    @Test("the witness dies and returns without stopping writes; it redirects clients and its disk stays a few hundred bytes whatever was written")
    func witnessDiesAndReturns() throws {
        let cluster = try Self.makeCluster()
        defer { cluster.stop() }
        try cluster.startAll()
        let client = try cluster.client()
        let leader = try #require(try cluster.waitForLeader(using: client)?.id)
        let stream = WriteStream(client: try cluster.client())
        defer { stream.stop() }
        #expect(stream.waitFor(more: 50))
        cluster.kill(3)
        #expect(stream.waitFor(more: 50), "two full trackers commit without the witness")
        try cluster.start(3)
        #expect(stream.waitFor(more: 200))
        let witnessEntry = try #require(try cluster.config().trackers.first { $0.id == 3 })
        let answer = try client.askOnce(.createUser(userID: "viaWitness", password: "pw"), tracker: witnessEntry)
        #expect(answer == .redirect(leader: try #require(Self.status(cluster, leader, client)?.leader), address: "127.0.0.1:\(cluster.ports[leader]!)"))
        let witnessStatus = try client.status(of: witnessEntry).get()
        #expect(witnessStatus.lastIndex == 0 && witnessStatus.appliedIndex == 0, "a witness holds no log and applies nothing")
        let files = try FileManager.default.contentsOfDirectory(atPath: cluster.dataDirectory(3))
        let bytes = try files.reduce(0) { $0 + ((try FileManager.default.attributesOfItem(atPath: cluster.dataDirectory(3) + "/" + $1)[.size] as? Int) ?? 0) }
        #expect(bytes < 1_024, "witness data directory: \(files) = \(bytes) bytes")
        stream.stop()
        try expectAllAcknowledged([stream], client: client)
    }

    @Test("the leader dies while the other full tracker is down: the cluster waits (no leader), loses nothing, and resumes when the leader returns")
    func leaderDiesWhileOtherDown() throws {
        let cluster = try Self.makeCluster()
        defer { cluster.stop() }
        try cluster.startAll()
        let client = try cluster.client(deadlineMillis: 3_000)
        let leader = try #require(try cluster.waitForLeader(using: client)?.id)
        let other: NodeID = leader == 1 ? 2 : 1
        let stream = WriteStream(client: try cluster.client(deadlineMillis: 3_000))
        defer { stream.stop() }
        #expect(stream.waitFor(more: 20))
        cluster.kill(other)
        #expect(stream.waitFor(more: 30), "the leader commits with the witness alone")
        cluster.kill(leader)
        try cluster.start(other) // it lacks what was committed with the witness: it must not lead
        #expect(!stream.waitFor(more: 1, timeoutMillis: 3_000), "the stale full tracker won an election")
        #expect(Self.status(cluster, other, client)?.leader == 0)
        try cluster.start(leader)
        #expect(stream.waitFor(more: 20, timeoutMillis: 15_000))
        stream.stop()
        try expectAllAcknowledged([stream], client: try cluster.client())
    }

    @Test("an idle link notices its peer restarted and reconnects before it has anything to send (else the first vote answer to the restarted tracker is lost)")
    func idleLinkReconnects() throws {
        let cluster = try Self.makeCluster()
        defer { cluster.stop() }
        try cluster.startAll()
        let client = try cluster.client()
        let leader = try #require(try cluster.waitForLeader(using: client)?.id)
        let follower: NodeID = leader == 1 ? 2 : 1
        usleep(500_000)
        let connected = "peer connected peer.id=\(follower)"
        let before = cluster.log(3).components(separatedBy: connected).count
        cluster.kill(follower)
        try cluster.start(follower)
        // The witness sends the follower nothing while the leader lives: only the link's own
        // check can find that the old connection is dead.
        let deadline = Date().addingTimeInterval(3)
        var after = before
        while Date() < deadline && after == before {
            usleep(50_000)
            after = cluster.log(3).components(separatedBy: connected).count
        }
        #expect(after > before, "the witness never reconnected to the restarted tracker")
    }
}
