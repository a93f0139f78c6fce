import Testing
@testable import TrackerStateMachine

@Suite("Binary formats")
struct CodecTests {
    static let token = tok(1)
    static let commands: [TrackerCommand] = [
        .createUser(userID: "alice", salt: [1, 2, 3, 4, 5, 6, 7, 8], passwordHash: [9, 9]),
        .openSession(userID: "alice", tokenHash: token, peerAddress: "1.2.3.4:5", nowMillis: 77),
        .keepAlive(tokenHash: token, nowMillis: UInt64.max),
        .logout(tokenHash: token),
        .expireSessions(tokenHashes: [token, tok(2)], nowMillis: 12),
        .expireSessions(tokenHashes: [], nowMillis: 0),
        .createGroup(tokenHash: token, groupID: "g"),
        .joinGroup(tokenHash: token, groupID: "g"),
        .acceptRequest(tokenHash: token, groupID: "g", userID: "bob"),
        .leaveGroup(tokenHash: token, groupID: "g"),
        .uploadFile(tokenHash: token, groupID: "g", metadata: meta("f", pieces: 5)),
        .announcePieces(tokenHash: token, groupID: "g", fileName: "f", pieces: [0x80]),
        .stopShare(tokenHash: token, groupID: "g", fileName: "f"),
    ]
    static let results: [TrackerResult] = [
        .ok(.done), .ok(.expiredSessions(count: 3)), .ok(.credentials(salt: [1], passwordHash: [2])),
        .ok(.session(SessionInfo(userID: "a", peerAddress: "h:1", leaseExpiryMillis: 5))),
        .ok(.groups(Page(items: [GroupSummary(groupID: "g", ownerID: "a", memberCount: 2)]))),
        .ok(.groups(Page(items: [GroupSummary(groupID: "g", ownerID: "a", memberCount: 2)], hasMore: true))),
        .ok(.groups(Page(items: []))), .ok(.requests(Page(items: ["a", "b"]))), .ok(.requests(Page(items: ["a"], hasMore: true))),
        .ok(.files(Page(items: [FileSummary(name: "f", sizeBytes: 9, onlineSharerCount: 1)]))),
        .ok(.files(Page(items: [FileSummary(name: "f", sizeBytes: 9, onlineSharerCount: 1)], hasMore: true))),
        .ok(.download(DownloadInfo(metadata: meta("f"), peers: [PeerInfo(userID: "a", peerAddress: "h:1", pieces: [0xE0])]))),
        .ok(.download(DownloadInfo(metadata: meta("f"), peers: [PeerInfo(userID: "a", peerAddress: "h:1", pieces: [0xE0])],
                                   omittedPeerCount: 7))),
        .failure(.notOwner, "g"), .failure(.staleRequest),
    ]

    @Test("every command (in its envelope) and result survives encode then decode")
    func roundTrips() throws {
        for command in Self.commands {
            let envelope = CommandEnvelope(clientID: 3, sequence: 4, command: command)
            #expect(try CommandEnvelope.decode(envelope.encode()) == envelope)
        }
        for result in Self.results { #expect(try TrackerResult.decode(result.encode()) == result) }
        for code in TrackerError.Code.allCases {
            #expect(try TrackerResult.decode(TrackerResult.failure(code, "d").encode()) == .failure(code, "d"))
        }
    }

    @Test("every truncation, trailing byte, bad version and unknown tag throws instead of trapping")
    func garbage() {
        let cases: [([[UInt8]], ([UInt8]) throws -> Void)] = [
            (Self.commands.map { CommandEnvelope(clientID: 1, sequence: 1, command: $0).encode() }, { _ = try CommandEnvelope.decode($0) }),
            (Self.results.map { $0.encode() }, { _ = try TrackerResult.decode($0) }),
        ]
        for (encodings, decode) in cases {
            for bytes in encodings {
                for cut in 0..<bytes.count { #expect(throws: (any Error).self) { try decode(Array(bytes[..<cut])) } }
                #expect(throws: (any Error).self) { try decode(bytes + [0]) }
                #expect(throws: (any Error).self) { try decode([bytes[0] &+ 1] + bytes.dropFirst()) }
            }
            #expect(throws: (any Error).self) { try decode([1, 99]) }
        }
        // A createUser whose user id claims 4 GiB.
        #expect(throws: (any Error).self) { try CommandEnvelope.decode([1] + [UInt8](repeating: 0, count: 16) + [1, 0xFF, 0xFF, 0xFF, 0xFF]) }
    }

    @Test("results carry their own version; a page's flags must be 0 or 1 and an empty page has no more")
    func pageFlags() throws {
        #expect(TrackerResult.ok(.done).encode().first == TrackerCodec.readsVersion)
        #expect(CommandEnvelope(clientID: 1, sequence: 1, command: .logout(tokenHash: Self.token)).encode().first == TrackerCodec.version)
        let page = TrackerResult.ok(.groups(Page(items: []))).encode()
        #expect(page.last == 0)
        #expect(throws: (any Error).self) { try TrackerResult.decode(Array(page.dropLast()) + [1]) }
        #expect(throws: (any Error).self) { try TrackerResult.decode(Array(page.dropLast()) + [2]) }
        let more = TrackerResult.ok(.requests(Page(items: ["a"], hasMore: true))).encode()
        #expect(try TrackerResult.decode(more) == .ok(.requests(Page(items: ["a"], hasMore: true))))
        #expect(throws: (any Error).self) { try TrackerResult.decode(Array(more.dropLast()) + [7]) }
    }

    @Test("random bytes never trap the decoders", arguments: [1, 2, 3] as [UInt64])
    func fuzz(seed: UInt64) {
        var rng = seed
        for _ in 0..<2_000 {
            rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let count = Int(rng >> 58)
            // Both format versions: envelopes are 1, results 2.
            var bytes: [UInt8] = [TrackerCodec.version + UInt8(rng >> 7 & 1), UInt8(rng >> 8 & 15)]
            for i in 0..<count { bytes.append(UInt8(truncatingIfNeeded: rng >> UInt64(i % 56))) }
            _ = try? TrackerResult.decode(bytes)
            _ = try? CommandEnvelope.decode(bytes)
        }
    }
}
