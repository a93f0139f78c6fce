import Foundation
import Networking
import PeerTransfer
import Testing

/// Real tracker and client processes on 127.0.0.1 against a hostile peer or a hostile local user.
@Suite("client against hostile peers and files", .serialized)
struct HostileInputProcessTests {
    static func mode(_ path: String) -> mode_t? {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & 0o777 : nil
    }

    @Test("100 connections that never authenticate do not stop a member's download, and are closed by the deadline")
    func slotFlood() throws {
        let f = try Fixture()
        defer { f.stop() }
        let source = try makeRandomFile(in: f.files, name: "f.bin", byteCount: 8 << 20)
        let alice = try f.client("alice", user: "alice")
        let carol = try f.client("carol", user: "carol")
        try f.makeGroup("g", owner: alice, members: [(carol, "carol")])
        #expect(alice.ok("upload_file \(source) g"))
        // Half finish the (public) handshake and go quiet, the other half never speak; the
        // quiet ones first, so they would be the ones holding slots taken before authentication.
        // The last four drip a hello byte by byte, so no receive timeout ends them, only the deadline.
        var flood: [(socket: Socket, openedMillis: UInt64)] = []
        defer { for entry in flood { entry.socket.close() } }
        for index in 0..<100 {
            let opened = monotonicNowMillis()
            let socket = index < 50 ? try PeerConnection.handshaken(port: alice.port, identity: try PeerConnection.stranger()).socket
                                    : try Socket.connect(host: "127.0.0.1", port: alice.port, timeoutMillis: 2_000)
            flood.append((socket, opened))
        }
        startDripping(flood.suffix(4).map(\.socket))
        let dir = try f.folder("carol")
        #expect(carol.ok("download_file g f.bin \(dir)"))
        let bound = UInt64(TransferLimits.authenticationDeadlineMillis + 1_500)
        let late = flood.compactMap { entry -> UInt64? in
            let closedAfter = millisUntilClosed(entry.socket, openedMillis: entry.openedMillis, timeoutMillis: Int(bound) + 2_000)
            return closedAfter.map { $0 <= bound } == true ? nil : (closedAfter ?? .max)
        }
        #expect(late.isEmpty, "\(late.count) flood connections outlived the deadline: \(late.prefix(5)) ms")
        let finished = carol.waitForDownload("f.bin", timeoutMillis: 20_000)
        #expect(finished["state"] as? String == "complete", "\(finished)")
        #expect(sha1Hex(ofFileAt: dir + "/f.bin") == sha1Hex(ofFileAt: source))
        let refusals = alice.log.split(separator: "\n").filter { $0.contains("peer connection refused") }
        #expect(refusals.contains { $0.contains("cause=host_unauthenticated_cap") })
        #expect(refusals.count <= RefusalCause.allCases.count, "rate-limited to one line per cause: \(refusals)")
    }

    @Test("a symbolic link planted at .name.part makes the download refuse; the link's target is untouched")
    func symlinkAtPartFile() throws {
        let f = try Fixture()
        defer { f.stop() }
        let source = try makeRandomFile(in: f.files, name: "f.bin", byteCount: 2 << 20)
        let alice = try f.client("alice", user: "alice")
        let carol = try f.client("carol", user: "carol")
        try f.makeGroup("g", owner: alice, members: [(carol, "carol")])
        #expect(alice.ok("upload_file \(source) g"))
        let victim = f.files + "/victim.txt"
        try Data("precious".utf8).write(to: URL(fileURLWithPath: victim))
        #expect(chmod(victim, 0o644) == 0)
        let dir = try f.folder("carol")
        try FileManager.default.createSymbolicLink(atPath: dir + "/.f.bin.part", withDestinationPath: victim)
        #expect(carol.ok("download_file g f.bin \(dir)"))
        let finished = carol.waitForDownload("f.bin")
        #expect(finished["state"] as? String == "failed")
        #expect((finished["reason"] as? String ?? "").contains("symbolic link"), "\(finished)")
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious")
        #expect(Self.mode(victim) == 0o644)
        #expect(!FileManager.default.fileExists(atPath: dir + "/f.bin"))
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: dir + "/.f.bin.part")) == victim, "the link is left for the user")
        // A dangling link is not followed to create its target either.
        let other = try f.folder("carol2")
        try FileManager.default.createSymbolicLink(atPath: other + "/.f.bin.part", withDestinationPath: f.files + "/created")
        #expect(carol.ok("download_file g f.bin \(other)"))
        #expect(carol.waitForDownload("f.bin")["state"] as? String == "failed")
        #expect(!FileManager.default.fileExists(atPath: f.files + "/created"))
    }

    @Test("the state directory is 0700 and its files 0600, also when it existed with wider modes")
    func stateDirectoryModes() throws {
        let f = try Fixture()
        defer { f.stop() }
        let source = try makeRandomFile(in: f.files, name: "f.bin", byteCount: 1 << 20)
        let wide = f.cluster.directory + "/state-bob"
        try FileManager.default.createDirectory(atPath: wide, withIntermediateDirectories: true)
        #expect(chmod(wide, 0o755) == 0)
        let alice = try f.client("alice", user: "alice")
        let bob = try f.client("bob", user: "bob")
        try f.makeGroup("g", owner: alice, members: [(bob, "bob")])
        #expect(alice.ok("upload_file \(source) g"))
        #expect(bob.ok("upload_file \(source) g"))
        let dir = try f.folder("bob")
        #expect(bob.ok("download_file g f.bin \(dir)/copy.bin"))
        #expect(bob.waitForDownload("f.bin")["state"] as? String == "complete")
        for client in [alice, bob] {
            #expect(Self.mode(client.stateDirectory) == 0o700, "\(client.stateDirectory)")
            // Files 0600; folders in it (the TLS identity's) 0700 with their files 0600.
            let files = try FileManager.default.subpathsOfDirectory(atPath: client.stateDirectory)
            #expect(!files.isEmpty)
            for file in files {
                var isFolder: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: client.stateDirectory + "/" + file, isDirectory: &isFolder)
                #expect(Self.mode(client.stateDirectory + "/" + file) == (isFolder.boolValue ? 0o700 : 0o600), "\(file)")
            }
        }
        let mask = umask(0o022)  // read it (and put it back at once)
        umask(mask)
        #expect(Self.mode(dir + "/copy.bin") == 0o666 & ~mask, "a finished download gets a new file's permissions")
    }

    @Test("an open whose user id holds control characters reaches the client's log escaped, once")
    func peerTextEscapedInLog() throws {
        let f = try Fixture()
        defer { f.stop() }
        let alice = try f.client("alice", user: "alice")
        for _ in 0..<3 {
            let refused = try PeerConnection.open(port: alice.port, userID: "ev\nil\u{1b}[2J", groupID: "g\r", identity: try PeerConnection.stranger())
            guard case .reject = refused.answer else {
                Issue.record("served: \(refused.answer)")
                return
            }
        }
        #expect(waitUntil(timeoutMillis: 5_000) { alice.log.contains("cause=bad_open") })
        let log = alice.log
        let lines = log.split(separator: "\n")
        #expect(lines.count(where: { $0.contains("cause=bad_open") }) == 1, "\(log)")
        #expect(log.contains("user=ev\\nil\\u{1b}[2J group=g\\r "), "\(log)")
        #expect(!log.unicodeScalars.contains { $0.value == 0x1B || $0 == "\r" }, "no raw escape or carriage return")
        #expect(!lines.contains { $0.hasPrefix("il") }, "the user id did not start a line of its own")
    }
}
