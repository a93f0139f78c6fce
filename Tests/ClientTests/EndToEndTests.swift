import Foundation
import PeerTransfer
import Testing

/// Real processes on 127.0.0.1: three trackers and several clients.
@Suite("client end to end", .serialized)
struct EndToEndTests {
    static let fileBytes = 32 << 20

    @Test("two downloaders fetch a 32 MiB file at once from two sharers, and both copies have its SHA-1")
    func twoDownloadersTwoSharers() throws {
        let f = try Fixture()
        defer { f.stop() }
        let source = try makeRandomFile(in: f.files, name: "big.bin", byteCount: Self.fileBytes)
        let alice = try f.client("alice", user: "alice")
        let bob = try f.client("bob", user: "bob")
        let carol = try f.client("carol", user: "carol")
        let dave = try f.client("dave", user: "dave")
        try f.makeGroup("g", owner: alice, members: [(bob, "bob"), (carol, "carol"), (dave, "dave")])
        let upload = alice.run("upload_file \(source) g")
        #expect(upload["ok"] as? Bool == true)
        #expect(upload["sha1"] as? String == sha1Hex(ofFileAt: source))
        #expect(bob.ok("upload_file \(source) g"), "a second sharer of the same content")
        let files = carol.run("list_files g")["files"] as? [[String: Any]] ?? []
        #expect(files.first?["online_sharers"] as? Int == 2)
        let carolDir = try f.folder("carol")
        let daveDir = try f.folder("dave")
        #expect(carol.ok("download_file g big.bin \(carolDir)"))
        #expect(dave.ok("download_file g big.bin \(daveDir)/copy.bin"))
        #expect(carol.waitForDownload("big.bin")["state"] as? String == "complete")
        #expect(dave.waitForDownload("big.bin")["state"] as? String == "complete")
        #expect(sha1Hex(ofFileAt: carolDir + "/big.bin") == sha1Hex(ofFileAt: source))
        #expect(sha1Hex(ofFileAt: daveDir + "/copy.bin") == sha1Hex(ofFileAt: source))
        #expect(!FileManager.default.fileExists(atPath: carolDir + "/.big.bin.part"), "the temporary file is renamed away")
    }

    @Test("one downloader fetches a 64 MiB file from four sharers at once, and its copy has the file's SHA-1")
    func fourSharersToOne() throws {
        let f = try Fixture()
        defer { f.stop() }
        let source = try makeRandomFile(in: f.files, name: "four.bin", byteCount: 64 << 20)
        let names = ["alice", "bob", "carol", "dave"]
        var sharers: [ClientProcess] = []
        for name in names { sharers.append(try f.client(name, user: name)) }
        let erin = try f.client("erin", user: "erin")
        let members = zip(sharers.dropFirst(), names.dropFirst()).map { ($0, $1) } + [(erin, "erin")]
        try f.makeGroup("g", owner: sharers[0], members: members)
        for sharer in sharers { #expect(sharer.ok("upload_file \(source) g")) }
        let files = erin.run("list_files g")["files"] as? [[String: Any]] ?? []
        #expect(files.first?["online_sharers"] as? Int == 4)
        let dir = try f.folder("erin")
        #expect(erin.ok("download_file g four.bin \(dir)"))
        let finished = erin.waitForDownload("four.bin")
        #expect(finished["state"] as? String == "complete", "\(finished)")
        #expect(sha1Hex(ofFileAt: dir + "/four.bin") == sha1Hex(ofFileAt: source))
        #expect(erin.isRunning, "the downloader is still alive")
        let servedBy = names.filter { erin.log.contains("peer link ended user=\($0)") == false }
        #expect(servedBy.count == 4, "no peer link failed: \(erin.log)")
    }

    @Test("a download completes from the remaining sharer when one sharer is killed mid-download")
    func sharerKilledMidDownload() throws {
        let f = try Fixture()
        defer { f.stop() }
        let source = try makeRandomFile(in: f.files, name: "f.bin", byteCount: 16 << 20)
        let slow = ["--test-serve-delay-ms", "40"]
        let alice = try f.client("alice", user: "alice", extraArguments: slow)
        let bob = try f.client("bob", user: "bob", extraArguments: slow)
        let carol = try f.client("carol", user: "carol")
        try f.makeGroup("g", owner: alice, members: [(bob, "bob"), (carol, "carol")])
        #expect(alice.ok("upload_file \(source) g"))
        #expect(bob.ok("upload_file \(source) g"))
        let dir = try f.folder("carol")
        #expect(carol.ok("download_file g f.bin \(dir)"))
        let started = waitUntil(timeoutMillis: 20_000) { (carol.download("f.bin")?["percent"] as? Double ?? 0) >= 10 }
        #expect(started)
        bob.kill()
        let progress = carol.download("f.bin")?["percent"] as? Double ?? 100
        #expect(progress < 90, "the sharer was killed in the middle, at \(progress)%")
        #expect(carol.waitForDownload("f.bin")["state"] as? String == "complete")
        #expect(sha1Hex(ofFileAt: dir + "/f.bin") == sha1Hex(ofFileAt: source))
    }

    @Test("a peer serving corrupted pieces is detected and dropped, and the download is still correct")
    func corruptingPeer() throws {
        let f = try Fixture()
        defer { f.stop() }
        let source = try makeRandomFile(in: f.files, name: "f.bin", byteCount: 8 << 20)
        let alice = try f.client("alice", user: "alice")
        let mallory = try f.client("mallory", user: "mallory", extraArguments: ["--test-corrupt-pieces", "100000"])
        let carol = try f.client("carol", user: "carol")
        try f.makeGroup("g", owner: alice, members: [(mallory, "mallory"), (carol, "carol")])
        #expect(alice.ok("upload_file \(source) g"))
        #expect(mallory.ok("upload_file \(source) g"))
        let dir = try f.folder("carol")
        #expect(carol.ok("download_file g f.bin \(dir)"))
        #expect(carol.waitForDownload("f.bin")["state"] as? String == "complete")
        #expect(sha1Hex(ofFileAt: dir + "/f.bin") == sha1Hex(ofFileAt: source))
        let log = carol.log
        #expect(log.contains("bad piece rejected user=mallory"), "corrupt pieces were seen and thrown away")
        #expect(log.contains("peer dropped for bad pieces user=mallory"))
        #expect(!log.contains("bad piece rejected user=alice"))
    }

    @Test("a download completes when the tracker leader is killed during it")
    func leaderKilledDuringDownload() throws {
        let f = try Fixture()
        defer { f.stop() }
        let source = try makeRandomFile(in: f.files, name: "f.bin", byteCount: 8 << 20)
        let alice = try f.client("alice", user: "alice", extraArguments: ["--test-serve-delay-ms", "60"])
        let carol = try f.client("carol", user: "carol")
        try f.makeGroup("g", owner: alice, members: [(carol, "carol")])
        #expect(alice.ok("upload_file \(source) g"))
        let dir = try f.folder("carol")
        #expect(carol.ok("download_file g f.bin \(dir)"))
        #expect(waitUntil(timeoutMillis: 20_000) { (carol.download("f.bin")?["percent"] as? Double ?? 0) >= 5 })
        let leader = try #require(try f.cluster.leader())
        f.cluster.kill(leader)
        #expect(carol.waitForDownload("f.bin")["state"] as? String == "complete")
        #expect(sha1Hex(ofFileAt: dir + "/f.bin") == sha1Hex(ofFileAt: source))
        #expect(carol.ok("list_files g"), "commands work after the failover")
    }

    @Test("a restarted client resumes a download from its verified pieces")
    func resumeAfterRestart() throws {
        let f = try Fixture()
        defer { f.stop() }
        let source = try makeRandomFile(in: f.files, name: "f.bin", byteCount: 8 << 20)
        let alice = try f.client("alice", user: "alice", extraArguments: ["--test-serve-delay-ms", "40"])
        let carol = try f.client("carol", user: "carol")
        try f.makeGroup("g", owner: alice, members: [(carol, "carol")])
        #expect(alice.ok("upload_file \(source) g"))
        let dir = try f.folder("carol")
        #expect(carol.ok("download_file g f.bin \(dir)"))
        #expect(waitUntil(timeoutMillis: 20_000) { (carol.download("f.bin")?["percent"] as? Double ?? 0) >= 20 })
        carol.run("quit")
        #expect(carol.wait(timeoutMillis: 10_000) == 0)
        #expect(FileManager.default.fileExists(atPath: dir + "/.f.bin.part"), "the partial file stays for a resume")
        let again = try f.client("carol2", port: carol.port)
        #expect(again.ok("login carol pw-carol"))
        #expect(again.ok("download_file g f.bin \(dir)"))
        #expect(again.waitForDownload("f.bin")["state"] as? String == "complete")
        #expect(sha1Hex(ofFileAt: dir + "/f.bin") == sha1Hex(ofFileAt: source))
        let resumed = again.log.split(separator: "\n").first { $0.contains("download resumed") }.map(String.init) ?? ""
        let pieces = Int(resumed.split(separator: "=").last ?? "") ?? 0
        #expect(pieces >= 3, "resumed from verified pieces: \(resumed)")
    }
}

extension EndToEndTests {
    @Test("after its first verified piece a downloader is announced and serves the pieces it has")
    func downloaderServesItsPieces() throws {
        let f = try Fixture()
        defer { f.stop() }
        let source = try makeRandomFile(in: f.files, name: "f.bin", byteCount: 16 << 20)
        let alice = try f.client("alice", user: "alice", extraArguments: ["--test-serve-delay-ms", "80"])
        let carol = try f.client("carol", user: "carol")
        let dave = try f.client("dave", user: "dave")
        try f.makeGroup("g", owner: alice, members: [(carol, "carol"), (dave, "dave")])
        #expect(alice.ok("upload_file \(source) g"))
        #expect(carol.ok("download_file g f.bin \(try f.folder("carol"))"))
        let announced = waitUntil(timeoutMillis: 20_000) {
            let files = dave.run("list_files g")["files"] as? [[String: Any]] ?? []
            return files.first?["online_sharers"] as? Int == 2
        }
        #expect(announced, "carol is listed as a sharer while she downloads")
        let peer = try PeerConnection.open(port: carol.port, userID: "dave", groupID: "g", identity: try PeerConnection.identity(of: dave))
        #expect(peer.answer == .opened)
        guard case let .bitfield(_, bits) = try peer.wire.subscribe("f.bin"),
              let held = PieceScheduler.flags(of: bits, pieceCount: 32)?.firstIndex(of: true) else {
            Issue.record("carol offered no piece")
            return
        }
        #expect(carol.download("f.bin")?["state"] as? String == "downloading", "still downloading while serving")
        try peer.wire.send(.request(groupID: "g", fileName: "f.bin", index: UInt32(held)))
        guard case let .piece(_, bytes) = try peer.wire.receiveAnswer() else {
            Issue.record("carol did not serve a piece she holds")
            return
        }
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: source)))
        let start = held * TransferLimits.pieceSizeBytes
        #expect(bytes == Array(original[start..<(start + TransferLimits.pieceSizeBytes)]))
        #expect(carol.waitForDownload("f.bin")["state"] as? String == "complete")
    }
}

/// Polls `condition` every 50 ms until it holds or the time is up; returns whether it held.
func waitUntil(timeoutMillis: Int, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(Double(timeoutMillis) / 1000)
    while Date() < deadline {
        if condition() { return true }
        usleep(50_000)
    }
    return condition()
}
