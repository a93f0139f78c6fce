import Testing
import TrackerProtocol
import TrackerStateMachine

@Suite("Service wire format and leader finding")
struct ServiceCodecTests {
    @Test("requests and responses round-trip; truncated bytes are refused")
    func roundTrip() throws {
        let requests = [
            ClientRequest(clientID: 1, sequence: 2, operation: .createUser(userID: "u", password: "p")),
            ClientRequest(clientID: 1, sequence: 3, operation: .login(userID: "u", password: "p", peerAddress: "1.2.3.4:5")),
            ClientRequest(clientID: 1, sequence: 4, token: [9, 9], operation: .command(.joinGroup(groupID: "g"))),
            ClientRequest(clientID: 1, sequence: 5, token: [9], operation: .query(.listFiles(groupID: "g"))),
            ClientRequest(clientID: 1, sequence: 6, operation: .clusterStatus),
        ]
        for request in requests {
            let bytes = ServiceCodec.encode(request)
            #expect(try ServiceCodec.decodeRequest(bytes) == request)
            for cut in 0..<bytes.count { #expect(throws: (any Error).self) { _ = try ServiceCodec.decodeRequest(Array(bytes[..<cut])) } }
        }
        let responses: [ClientResponse] = [
            .result(.ok(.done)), .result(.failure(.notMember, "g")), .loggedIn(token: [1, 2], session: SessionInfo(userID: "u", peerAddress: "a:1", leaseExpiryMillis: 5)),
            .redirect(leader: 2, address: "127.0.0.1:7002"), .noLeader, .retryLater(reason: "r"), .rejected(reason: "x"),
            .status(TrackerStatus(id: 1, role: .leader, term: 3, leader: 1, commitIndex: 9, appliedIndex: 9, lastIndex: 10,
                                  followerMatch: [.init(id: 2, matchIndex: 8)])),
        ]
        for response in responses {
            let bytes = ServiceCodec.encode(response)
            #expect(try ServiceCodec.decodeResponse(bytes) == response)
            for cut in 0..<bytes.count { #expect(throws: (any Error).self) { _ = try ServiceCodec.decodeResponse(Array(bytes[..<cut])) } }
        }
    }

    @Test("the leader finder follows redirects, rotates on failure and backs off once all failed")
    func leaderFinder() {
        let trackers = (1...3).map { LeaderFinder.Tracker(id: TrackerID($0), address: "127.0.0.1:\(7000 + $0)") }
        var finder = LeaderFinder(trackers: trackers, seed: 5)
        #expect(finder.redirected(to: 2) == 0)
        #expect(finder.target.id == 2)
        #expect(finder.failed() == 0)
        #expect(finder.target.id == 3)
        #expect(finder.failed() == 0)
        let pause = finder.failed()
        #expect(pause >= 25 && pause <= 50, "a full round of failures backs off")
        var longest: UInt64 = 0
        for _ in 0..<60 { longest = max(longest, finder.failed()) }
        #expect(longest <= finder.policy.backoffMaxMillis && longest >= finder.policy.backoffMaxMillis / 2)
        finder.succeeded()
        #expect(finder.failed() == 0)
    }
}

@Suite("Stale-read wire format")
struct StaleWireTests {
    @Test("allowsStale and possiblyStale round-trip; a request without the flags byte decodes as before; bad flags are refused")
    func roundTrips() throws {
        let request = ClientRequest(clientID: 1, sequence: 2, token: [1, 2], operation: .query(.listFiles(groupID: "g")), allowsStale: true)
        let bytes = ServiceCodec.encode(request)
        #expect(try ServiceCodec.decodeRequest(bytes) == request)
        var plain = request
        plain.allowsStale = false
        #expect(ServiceCodec.encode(plain) == Array(bytes.dropLast()), "the flag is one trailing byte, absent when not set")
        #expect(try ServiceCodec.decodeRequest(Array(bytes.dropLast())) == plain)
        #expect(throws: (any Error).self) { try ServiceCodec.decodeRequest(Array(bytes.dropLast()) + [2]) }
        #expect(throws: (any Error).self) { try ServiceCodec.decodeRequest(bytes + [1]) }
        let response = ClientResponse.possiblyStale(.ok(.done), StaleMark(tracker: 3, appliedIndex: 99))
        let encoded = ServiceCodec.encode(response)
        #expect(try ServiceCodec.decodeResponse(encoded) == response)
        for cut in 0..<encoded.count { #expect(throws: (any Error).self) { try ServiceCodec.decodeResponse(Array(encoded.prefix(cut))) } }
    }
}
