import Foundation
import ProcessHarness
import Testing

/// Issue 16 with real processes: the data plane outlives the quorum, and downloads in progress
/// outlive every tracker.
@Suite("downloads outlive the quorum", .serialized)
struct StaleReadProcessTests {
    /// Two sharers (s1, s2, with `sharerArguments`) and a downloader d in group g, both sharers
    /// sharing `name` (`byteCount` random bytes). Returns the source path and the clients.
    static func sharedFile(_ f: Fixture, name: String, byteCount: Int,
                           sharerArguments: [String] = []) throws -> (source: String, d: ClientProcess, sharers: [ClientProcess]) {
        let source = try makeRandomFile(in: f.files, name: name, byteCount: byteCount)
        let s1 = try f.client("s1", user: "s1", extraArguments: sharerArguments)
        let s2 = try f.client("s2", user: "s2", extraArguments: sharerArguments)
        let d = try f.client("d", user: "d")
        try f.makeGroup("g", owner: s1, members: [(s2, "s2"), (d, "d")])
        try s1.must("upload_file \(source) g")
        try s2.must("upload_file \(source) g")
        return (source, d, [s1, s2])
    }

    static func onlineSharers(_ listing: [String: Any]) -> Int? {
        (listing["files"] as? [[String: Any]])?.first?["online_sharers"] as? Int
    }

    @Test("two trackers, no witness, one killed -9: list_files and download_file work from the survivor, marked possibly stale; create_group fails at its deadline")
    func survivorServesTheDataPlane() throws {
        let f = try Fixture(size: 2)
        defer { f.stop() }
        let (source, d, _) = try Self.sharedFile(f, name: "q.bin", byteCount: 4 << 20)
        let before = d.run("list_files g")
        #expect(before["ok"] as? Bool == true && before["possibly_stale"] == nil, "a leader's answer is not marked: \(before)")
        #expect(Self.onlineSharers(before) == 2)
        let leader = try #require(try f.cluster.waitForLeader())
        f.cluster.kill(leader.id)

        let listed = d.run("list_files g")
        #expect(listed["ok"] as? Bool == true && listed["possibly_stale"] as? Bool == true, "\(listed)")
        #expect(Self.onlineSharers(listed) == 2, "\(listed)")
        let started = d.run("download_file g q.bin \(try f.folder("d"))")
        #expect(started["ok"] as? Bool == true && started["possibly_stale"] as? Bool == true, "\(started)")
        let finished = d.waitForDownload("q.bin", timeoutMillis: 90_000)
        #expect(finished["state"] as? String == "complete", "\(finished)")
        #expect(sha1Hex(ofFileAt: f.files + "/d/q.bin") == sha1Hex(ofFileAt: source))

        // A write waits for a quorum until the client's call deadline (15 s), then fails.
        let write = d.run("create_group h", timeoutMillis: 40_000)
        #expect(write["ok"] as? Bool == false, "\(write)")
        #expect((write["error"] as? String ?? "").contains("unavailable"), "\(write)")
    }

    @Test("a download in progress completes after every tracker is killed, from the sharers it knows")
    func downloadOutlivesEveryTracker() throws {
        let f = try Fixture()
        defer { f.stop() }
        // 48 pieces; each sharer sends one piece per 300 ms, so the kill lands mid-download.
        let (source, d, sharers) = try Self.sharedFile(f, name: "big.bin", byteCount: 24 << 20, sharerArguments: ["--test-serve-delay-ms", "300"])
        try d.must("download_file g big.bin \(try f.folder("d"))")
        let deadline = Date().addingTimeInterval(30)
        var percent = 0.0
        while Date() < deadline, percent <= 0 {
            percent = d.download("big.bin")?["percent"] as? Double ?? 0
            usleep(50_000)
        }
        for id in f.cluster.ids { f.cluster.kill(id) }
        let atKill = try #require(d.download("big.bin"))
        try #require(atKill["state"] as? String == "downloading", "the kill must land mid-download: \(atKill)")
        let finished = d.waitForDownload("big.bin", timeoutMillis: 120_000)
        #expect(finished["state"] as? String == "complete", "\(finished)")
        #expect(sha1Hex(ofFileAt: f.files + "/d/big.bin") == sha1Hex(ofFileAt: source))
        // The sharers could not check membership again, and served on.
        #expect(sharers.contains { $0.log.contains("membership check unanswered") }, "\(sharers.map(\.log))")
    }
}
