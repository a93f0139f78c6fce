import Testing
import TrackerHosting
import TrackerProtocol
import TrackerStateMachine

@Suite("Binding client requests to log commands at the leader")
struct BindingTests {
    static let hash = TokenHash([UInt8](repeating: 0x3C, count: 16))
    static let metadata = FileMetadata(name: "f", sizeBytes: 10, pieceSizeBytes: 512 * 1024,
                                       pieceHashes: [UInt8](repeating: 1, count: 20), fileHash: [UInt8](repeating: 2, count: 20))

    @Test("every client command becomes the log command of its kind, with the session's hash, the leader's time and its own fields")
    func commands() {
        let h = Self.hash
        let expected: [(ClientCommand, TrackerCommand)] = [
            (.keepAlive, .keepAlive(tokenHash: h, nowMillis: 77)),
            (.logout, .logout(tokenHash: h)),
            (.createGroup(groupID: "g"), .createGroup(tokenHash: h, groupID: "g")),
            (.joinGroup(groupID: "g"), .joinGroup(tokenHash: h, groupID: "g")),
            (.acceptRequest(groupID: "g", userID: "u"), .acceptRequest(tokenHash: h, groupID: "g", userID: "u")),
            (.leaveGroup(groupID: "g"), .leaveGroup(tokenHash: h, groupID: "g")),
            (.uploadFile(groupID: "g", metadata: Self.metadata), .uploadFile(tokenHash: h, groupID: "g", metadata: Self.metadata)),
            (.announcePieces(groupID: "g", fileName: "f", pieces: [0x80]),
             .announcePieces(tokenHash: h, groupID: "g", fileName: "f", pieces: [0x80])),
            (.stopShare(groupID: "g", fileName: "f"), .stopShare(tokenHash: h, groupID: "g", fileName: "f")),
        ]
        for (command, logged) in expected {
            #expect(TrackerCommand.bind(command, to: h, nowMillis: 77) == logged)
        }
    }

    @Test("every client query becomes the state machine's query of its kind, with the session's hash and its own fields")
    func queries() {
        let h = Self.hash
        let page = PageRequest(after: "a", limit: 5)
        let expected: [(ClientQuery, TrackerQuery)] = [
            (.session, .session(tokenHash: h)),
            (.listGroups(page: page), .listGroups(tokenHash: h, page: page)),
            (.listRequests(groupID: "g", page: page), .listRequests(tokenHash: h, groupID: "g", page: page)),
            (.listFiles(groupID: "g", page: page), .listFiles(tokenHash: h, groupID: "g", page: page)),
            (.downloadInfo(groupID: "g", fileName: "f"), .downloadInfo(tokenHash: h, groupID: "g", fileName: "f")),
            (.memberSession(groupID: "g", userID: "u"), .memberSession(tokenHash: h, groupID: "g", userID: "u")),
        ]
        for (query, asked) in expected {
            #expect(TrackerQuery.bind(query, to: h) == asked)
        }
    }
}
