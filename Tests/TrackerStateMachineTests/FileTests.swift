import Testing
@testable import TrackerStateMachine

@Suite("Files and shares")
struct FileTests {
    /// alice (1) owns g1 with member bob (2); carol (3) is logged in, not a member.
    static func setUp(limits: Limits = .standard) -> (Harness, TokenHash, TokenHash, TokenHash) {
        var h = Harness(limits: limits)
        let a = h.login("alice", 1), b = h.login("bob", 2), c = h.login("carol", 3)
        h.ok(.createGroup(tokenHash: a, groupID: "g1"))
        h.ok(.joinGroup(tokenHash: b, groupID: "g1"))
        h.ok(.acceptRequest(tokenHash: a, groupID: "g1", userID: "bob"))
        return (h, a, b, c)
    }

    @Test("upload_file registers the file with the uploader as complete sharer; same content adds a sharer")
    func upload() {
        var (h, a, b, _) = Self.setUp()
        var expected = h.state
        let m = meta("movie.mkv", pieces: 10)
        h.ok(.uploadFile(tokenHash: b, groupID: "g1", metadata: m))
        let complete = PieceBitfield.complete(pieceCount: 10)
        #expect(complete == [0xFF, 0xC0])
        expected.groups["g1"]!.files["movie.mkv"] = StoredFile(metadata: m, sharers: [Sharer(userID: "bob", pieces: complete)])
        #expect(h.state == expected)
        h.ok(.uploadFile(tokenHash: a, groupID: "g1", metadata: m))
        expected.groups["g1"]!.files["movie.mkv"]!.sharers.insert(Sharer(userID: "alice", pieces: complete), at: 0)
        #expect(h.state == expected)
        #expect(h.query(.listFiles(tokenHash: a, groupID: "g1")) == .ok(.files(Page(items: [FileSummary(name: "movie.mkv", sizeBytes: m.sizeBytes, onlineSharerCount: 2)]))))
    }

    @Test("upload_file refuses: other content under the name, bad metadata, non-member, limits")
    func uploadErrors() {
        var limits = Limits.standard
        limits.filesPerGroupMax = 1
        limits.sharersPerFileMax = 1
        var (h, a, b, c) = Self.setUp(limits: limits)
        h.ok(.uploadFile(tokenHash: a, groupID: "g1", metadata: meta("x")))
        h.refused(.uploadFile(tokenHash: a, groupID: "g1", metadata: meta("x", variant: 1)), .fileConflict)
        h.refused(.uploadFile(tokenHash: a, groupID: "g1", metadata: meta("y")), .limitReached)
        h.refused(.uploadFile(tokenHash: b, groupID: "g1", metadata: meta("x")), .limitReached)
        h.refused(.uploadFile(tokenHash: c, groupID: "g1", metadata: meta("x")), .notMember)
        h.refused(.uploadFile(tokenHash: a, groupID: "g9", metadata: meta("x")), .noSuchGroup)
        h.refused(.uploadFile(tokenHash: tok(99), groupID: "g1", metadata: meta("x")), .notLoggedIn)
        var bad = [meta("a/b"), meta(".."), meta("x y"), meta("x"), meta("x"), meta("x"), meta("x")]
        bad[3].pieceSizeBytes = 1_024
        bad[4].pieceHashes.removeLast()
        bad[5].fileHash = [1]
        bad[6].sizeBytes = limits.fileSizeBytesMax + 1
        for m in bad { h.refused(.uploadFile(tokenHash: a, groupID: "g1", metadata: m), .invalidInput) }
    }

    @Test("a downloader becomes a partial sharer with its first piece; announced pieces merge")
    func announce() {
        var (h, a, b, _) = Self.setUp()
        let m = meta("movie", pieces: 10)
        h.ok(.uploadFile(tokenHash: a, groupID: "g1", metadata: m))
        var expected = h.state
        h.ok(.announcePieces(tokenHash: b, groupID: "g1", fileName: "movie", pieces: [0x00, 0x40]))
        expected.groups["g1"]!.files["movie"]!.sharers.append(Sharer(userID: "bob", pieces: [0x00, 0x40]))
        #expect(h.state == expected)
        h.ok(.announcePieces(tokenHash: b, groupID: "g1", fileName: "movie", pieces: [0x81, 0x00]))
        expected.groups["g1"]!.files["movie"]!.sharers[1].pieces = [0x81, 0x40]
        #expect(h.state == expected)
        let info = DownloadInfo(metadata: m, peers: [PeerInfo(userID: "bob", peerAddress: addr(2), pieces: [0x81, 0x40])])
        #expect(h.query(.downloadInfo(tokenHash: a, groupID: "g1", fileName: "movie")) == .ok(.download(info)))
    }

    @Test("announce refuses: bad bitfields, no piece, no such file, non-member")
    func announceErrors() {
        var (h, a, b, c) = Self.setUp()
        h.ok(.uploadFile(tokenHash: a, groupID: "g1", metadata: meta("movie", pieces: 10)))
        for bits: [UInt8] in [[0xFF], [0xFF, 0x00, 0x00], [0x00, 0x20], [0x00, 0x00]] {
            h.refused(.announcePieces(tokenHash: b, groupID: "g1", fileName: "movie", pieces: bits), .invalidInput)
        }
        h.refused(.announcePieces(tokenHash: b, groupID: "g1", fileName: "other", pieces: [0x80, 0]), .noSuchFile)
        h.refused(.announcePieces(tokenHash: c, groupID: "g1", fileName: "movie", pieces: [0x80, 0]), .notMember)
        h.refused(.announcePieces(tokenHash: b, groupID: "g1", fileName: "a/b", pieces: [0x80, 0]), .invalidInput)
    }

    @Test("only online sharers are offered; logout pauses shares and login resumes them")
    func onlinePeers() {
        var (h, a, b, c) = Self.setUp()
        let m = meta("movie")
        h.ok(.uploadFile(tokenHash: a, groupID: "g1", metadata: m))
        h.ok(.uploadFile(tokenHash: b, groupID: "g1", metadata: m))
        h.ok(.logout(tokenHash: a))
        let bobOnly = DownloadInfo(metadata: m, peers: [PeerInfo(userID: "bob", peerAddress: addr(2), pieces: [0xE0])])
        #expect(h.query(.downloadInfo(tokenHash: b, groupID: "g1", fileName: "movie")) == .ok(.download(DownloadInfo(metadata: m, peers: []))))
        #expect(h.query(.listFiles(tokenHash: b, groupID: "g1")) == .ok(.files(Page(items: [FileSummary(name: "movie", sizeBytes: m.sizeBytes, onlineSharerCount: 1)]))))
        let a2 = h.login("alice", 11, create: false)
        #expect(h.query(.downloadInfo(tokenHash: a2, groupID: "g1", fileName: "movie")) == .ok(.download(bobOnly)))
        #expect(h.query(.listFiles(tokenHash: c, groupID: "g1")) == .failure(.notMember, "g1"))
        #expect(h.query(.downloadInfo(tokenHash: c, groupID: "g1", fileName: "movie")) == .failure(.notMember, "g1"))
        #expect(h.query(.downloadInfo(tokenHash: b, groupID: "g1", fileName: "nope")) == .failure(.noSuchFile, "nope"))
        #expect(h.query(.listFiles(tokenHash: b, groupID: "g9")) == .failure(.noSuchGroup, "g9"))
    }

    @Test("stop_share ends one share; a file nobody shares leaves the group")
    func stopShare() {
        var (h, a, b, c) = Self.setUp()
        h.ok(.uploadFile(tokenHash: a, groupID: "g1", metadata: meta("movie")))
        h.ok(.uploadFile(tokenHash: b, groupID: "g1", metadata: meta("movie")))
        var expected = h.state
        h.ok(.stopShare(tokenHash: a, groupID: "g1", fileName: "movie"))
        expected.groups["g1"]!.files["movie"]!.sharers.removeFirst()
        #expect(h.state == expected)
        h.refused(.stopShare(tokenHash: a, groupID: "g1", fileName: "movie"), .notSharing)
        h.refused(.stopShare(tokenHash: c, groupID: "g1", fileName: "movie"), .notMember)
        h.refused(.stopShare(tokenHash: b, groupID: "g1", fileName: "nope"), .noSuchFile)
        h.ok(.stopShare(tokenHash: b, groupID: "g1", fileName: "movie"))
        expected.groups["g1"]!.files = [:]
        #expect(h.state == expected)
    }

    @Test("an empty file has no pieces and its uploader is a complete sharer")
    func emptyFile() {
        var (h, a, _, _) = Self.setUp()
        let m = FileMetadata(name: "empty", sizeBytes: 0, pieceSizeBytes: 524_288, pieceHashes: [], fileHash: [UInt8](repeating: 9, count: 20))
        var expected = h.state
        h.ok(.uploadFile(tokenHash: a, groupID: "g1", metadata: m))
        expected.groups["g1"]!.files["empty"] = StoredFile(metadata: m, sharers: [Sharer(userID: "alice", pieces: [])])
        #expect(h.state == expected)
    }
}

@Suite("Member sessions for peer servers")
struct MemberSessionTests {
    @Test("a member learns another online member's session; non-members and offline users are refused")
    func memberSession() {
        var (h, a, b, c) = FileTests.setUp()
        let state = h.state
        guard case let .ok(.session(info)) = h.query(.memberSession(tokenHash: a, groupID: "g1", userID: "bob")) else {
            Issue.record("expected bob's session")
            return
        }
        #expect(info.userID == "bob")
        #expect(h.query(.memberSession(tokenHash: a, groupID: "g1", userID: "carol")).errorCode == .notMember)
        #expect(h.query(.memberSession(tokenHash: c, groupID: "g1", userID: "bob")).errorCode == .notMember)
        #expect(h.query(.memberSession(tokenHash: a, groupID: "nope", userID: "bob")).errorCode == .noSuchGroup)
        h.ok(.logout(tokenHash: b))
        #expect(h.query(.memberSession(tokenHash: a, groupID: "g1", userID: "bob")).errorCode == .notMember)
        _ = state
    }
}

extension TrackerResult {
    var errorCode: TrackerError.Code? {
        if case let .failed(error) = self { return error.code }
        return nil
    }
}
