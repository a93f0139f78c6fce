import Foundation
import ProcessHarness
import Synchronization
import Testing

/// Bytes of every file in a directory, and the names of its snapshot files.
func directoryUsage(_ path: String) -> (bytes: Int, snapshots: [String], segments: Int) {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    var bytes = 0
    for name in names {
        let size = (try? FileManager.default.attributesOfItem(atPath: path + "/" + name)[.size] as? NSNumber)?.intValue ?? 0
        bytes += size
    }
    return (bytes, names.filter { $0.hasSuffix(".snap") }.sorted(), names.filter { $0.hasSuffix(".seg") }.count)
}

@Suite("tracker-node snapshots", .serialized)
struct SnapshotProcessTests {
    @Test("writes past the snapshot threshold several times keep each data directory bounded; a wiped tracker rejoins by snapshot and serves the same state")
    func boundedDiskAndWipedRejoin() throws {
        let cluster = try TrackerCluster(extraArguments: ["--snapshot-entries", "300", "--segment-bytes", "32768", "--snapshot-inline-bytes", "4096"])
        defer { cluster.stop() }
        try cluster.startAll()
        let client = try cluster.client()
        let leader = try #require(try cluster.waitForLeader(using: client)?.id)
        let token = try session(client, user: "bulk")
        let writers = 8, perWriter = 250
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: writers) { w in
            // One user per writer: a user owns at most Limits.groupsOwnedPerUserMax groups.
            guard let own = try? cluster.client(), let ownToken = try? session(own, user: "bulk\(w)") else {
                failures.withLock { $0 += 1 }
                return
            }
            for i in 0..<perWriter {
                let answer = try? own.call(.command(.createGroup(groupID: "w\(w)-\(i)")), token: ownToken)
                if answer != .result(.ok(.done)) { failures.withLock { $0 += 1 } }
            }
        }
        #expect(failures.withLock { $0 } == 0)
        usleep(500_000) // let followers apply and snapshot
        for id in cluster.ids {
            let usage = directoryUsage(cluster.dataDirectory(id))
            #expect(!usage.snapshots.isEmpty && usage.snapshots.count <= 2, "tracker \(id): \(usage.snapshots)")
            // 2,000+ entries of about 150 bytes would be over 300 KB of log; compacted, the
            // log keeps about one threshold's worth in a few 32 KiB segments.
            #expect(usage.segments <= 6, "tracker \(id) keeps \(usage.segments) segments")
            #expect(usage.bytes < 2 * 1024 * 1024, "tracker \(id) uses \(usage.bytes) bytes")
        }
        // Wipe a follower; removed and added back (a new identity), it comes back by
        // InstallSnapshot (the log it needs is compacted).
        let wiped = cluster.ids.first { $0 != leader }!
        let other = cluster.ids.first { $0 != leader && $0 != wiped }!
        cluster.kill(wiped)
        try cluster.wipeKeepingIdentity(wiped)
        try cluster.start(wiped)
        #expect(try cluster.member(["remove", "--id", "\(wiped)"]).status == 0)
        #expect(try cluster.member(["add", "--id", "\(wiped)", "--address", "127.0.0.1:\(cluster.ports[wiped]!)"]).status == 0)
        #expect(try cluster.waitForMembers { $0[wiped] == "voter" })
        let deadline = Date().addingTimeInterval(10)
        var caughtUp = false
        while Date() < deadline && !caughtUp {
            let statuses = try cluster.statuses(using: client)
            let commit = statuses.first { $0.role == .leader }?.commitIndex ?? 0
            caughtUp = statuses.contains { $0.id == wiped && $0.appliedIndex >= commit && commit > 2_000 }
            usleep(50_000)
        }
        #expect(caughtUp)
        #expect(cluster.log(wiped).contains("snapshot installed from leader"))
        #expect(cluster.log(leader).contains("snapshot sent"), "the snapshot went in chunks")
        // Make the wiped tracker the leader and read everything back through it.
        cluster.kill(other)
        #expect(cluster.terminate(leader) == 0)
        try cluster.start(other)
        let newLeader = try #require(try cluster.waitForLeader(using: client)?.id)
        #expect(newLeader == wiped)
        let groups = try groupIDs(client, token)
        #expect(groups.count == writers * perWriter)
        try cluster.start(leader)
    }
}
