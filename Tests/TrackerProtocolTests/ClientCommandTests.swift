import BinaryCoding
import Testing
import TrackerProtocol
import TrackerStateMachine

@Suite("Client commands and queries on the wire")
struct ClientCommandTests {
    static let metadata = FileMetadata(name: "f.bin", sizeBytes: 1_000, pieceSizeBytes: 512 * 1024,
                                       pieceHashes: [UInt8](repeating: 7, count: 20), fileHash: [UInt8](repeating: 8, count: 20))

    static let commands: [ClientCommand] = [
        .keepAlive, .logout, .createGroup(groupID: "g"), .joinGroup(groupID: "g"),
        .acceptRequest(groupID: "g", userID: "bob"), .leaveGroup(groupID: "g"),
        .uploadFile(groupID: "g", metadata: metadata), .announcePieces(groupID: "g", fileName: "f.bin", pieces: [0xC0]),
        .stopShare(groupID: "g", fileName: "f.bin"),
    ]

    static let queries: [ClientQuery] = [
        .session, .listGroups(), .listGroups(page: PageRequest(after: "m", limit: 3)),
        .listRequests(groupID: "g", page: PageRequest(limit: 9)), .listFiles(groupID: "g"),
        .downloadInfo(groupID: "g", fileName: "f.bin"), .memberSession(groupID: "g", userID: "bob"),
    ]

    @Test("every command and query round-trips alone and inside a request; every truncation is refused")
    func roundTrip() throws {
        for command in Self.commands {
            #expect(try ClientCommand.decode(command.encode()) == command)
            let request = ClientRequest(clientID: 3, sequence: 4, token: [1, 2], operation: .command(command))
            let bytes = ServiceCodec.encode(request)
            #expect(try ServiceCodec.decodeRequest(bytes) == request)
            for cut in 0..<bytes.count { #expect(throws: (any Error).self) { _ = try ServiceCodec.decodeRequest(Array(bytes[..<cut])) } }
        }
        for query in Self.queries {
            #expect(try ClientQuery.decode(query.encode()) == query)
            let request = ClientRequest(clientID: 3, sequence: 5, token: [1], operation: .query(query))
            let bytes = ServiceCodec.encode(request)
            #expect(try ServiceCodec.decodeRequest(bytes) == request)
            for cut in 0..<bytes.count { #expect(throws: (any Error).self) { _ = try ServiceCodec.decodeRequest(Array(bytes[..<cut])) } }
        }
    }

    @Test("only the nine client commands and six client queries decode: every other tag is refused as unknown")
    func unknownTags() {
        let version = ServiceCodec.requestVersion
        for tag in UInt8.min...UInt8.max where !(1...9).contains(tag) {
            #expect(throws: DecodingError("unknown client command", offset: 1)) { _ = try ClientCommand.decode([version, tag]) }
        }
        for tag in UInt8.min...UInt8.max where !(1...6).contains(tag) {
            #expect(throws: DecodingError("unknown client query", offset: 1)) { _ = try ClientQuery.decode([version, tag]) }
        }
        #expect(Set(Self.commands.map { $0.encode()[1] }).count == 9, "each command has its own tag")
        #expect(Set(Self.queries.map { $0.encode()[1] }).count == 6, "each query has its own tag")
    }

    @Test("a request of the previous format (version 1) is refused with an error naming both formats")
    func previousVersionRefused() {
        var bytes = ServiceCodec.encode(ClientRequest(clientID: 1, sequence: 1, operation: .command(.createGroup(groupID: "g"))))
        #expect(ServiceCodec.requestVersion == 2)
        bytes[0] = 1
        #expect(throws: UnsupportedRequestVersion(version: 1)) { _ = try ServiceCodec.decodeRequest(bytes) }
        #expect(UnsupportedRequestVersion(version: 1).description
            == "request format 1 is not supported (this tracker speaks 2): upgrade the client")
        #expect(throws: UnsupportedRequestVersion(version: 1)) { _ = try ClientCommand.decode([1, 1]) }
        #expect(throws: UnsupportedRequestVersion(version: 3)) { _ = try ClientQuery.decode([3, 1]) }
        // Responses keep their format, so an old client can read the refusal.
        #expect(ServiceCodec.encode(ClientResponse.rejected(reason: "x")).first == 1)
    }

    @Test("a page cursor's presence flag must be 0 or 1")
    func pageFlag() throws {
        let query = ClientQuery.listGroups(page: PageRequest(after: "g", limit: 5)).encode()
        let flagAt = query.count - 4 - 1 - 4 - 1 // limit, "g", its length, then the flag
        #expect(query[flagAt] == 1)
        var badFlag = query
        badFlag[flagAt] = 2
        #expect(throws: DecodingError.self) { _ = try ClientQuery.decode(badFlag) }
        #expect(try ClientQuery.decode(query) == .listGroups(page: PageRequest(after: "g", limit: 5)))
    }

    @Test("ids longer than the field bound, too many piece hashes and oversized bitfields are refused")
    func bounds() throws {
        let long = String(repeating: "g", count: ServiceCodec.fieldBytesMax + 1)
        let limits = Limits.standard
        var tooManyHashes = Self.metadata
        tooManyHashes.pieceHashes = [UInt8](repeating: 1, count: (limits.piecesPerFileMax + 1) * Limits.sha1Bytes)
        let oversized = [UInt8](repeating: 0xFF, count: PieceBitfield.byteCount(pieceCount: limits.piecesPerFileMax) + 1)
        let refused: [ClientCommand] = [
            .createGroup(groupID: long), .acceptRequest(groupID: "g", userID: long),
            .uploadFile(groupID: "g", metadata: tooManyHashes), .announcePieces(groupID: "g", fileName: "f", pieces: oversized),
        ]
        for command in refused {
            #expect(throws: DecodingError.self) { _ = try ClientCommand.decode(command.encode()) }
        }
        #expect(throws: DecodingError.self) { _ = try ClientQuery.decode(ClientQuery.memberSession(groupID: "g", userID: long).encode()) }
        let fitting = ClientCommand.createGroup(groupID: String(repeating: "g", count: ServiceCodec.fieldBytesMax))
        #expect(try ClientCommand.decode(fitting.encode()) == fitting)
    }
}
