import SimNet
import Testing
import TrackerProtocol
import TrackerStateMachine

/// A hand-written history: times in milliseconds, nil return time for an unknown outcome.
struct HistoryBuilder {
    var operations: [TrackerSpec.Operation] = []

    mutating func add(_ client: Int, _ callMillis: UInt64, _ returnMillis: UInt64?, _ input: TrackerCall, _ output: ClientResponse?) {
        let returned = (returnMillis ?? callMillis + 1) * 1_000
        operations.append(TrackerSpec.Operation(client: client, input: input, output: returnMillis == nil ? nil : output,
                                                 callMicros: callMillis * 1_000, returnMicros: returned, id: operations.count))
    }

    /// Creates each user and logs it in, one after another from time 0 (2 ms each); returns
    /// their sessions.
    mutating func logIn(_ users: [String]) -> [SpecSession] {
        var sessions: [SpecSession] = []
        for (client, user) in users.enumerated() {
            let session = SpecSession(userID: user, token: [UInt8](repeating: UInt8(client + 1), count: 16))
            let start = UInt64(client) * 2
            add(client, start, start + 1, .createUser(userID: user, password: "pw"), done)
            add(client, start + 1, start + 2, .login(userID: user, password: "pw"), loggedIn(session))
            sessions.append(session)
        }
        return sessions
    }

    func check(stepsMax: Int = 200_000) -> LinearizabilityReport {
        LinearizabilityChecker(model: TrackerSpec(), stepsPerPartitionMax: stepsMax).check(operations)
    }
}

let done = ClientResponse.result(.ok(.done))

func failed(_ code: TrackerError.Code) -> ClientResponse { .result(.failed(TrackerError(code))) }

func loggedIn(_ session: SpecSession) -> ClientResponse {
    .loggedIn(token: session.token, session: SessionInfo(userID: session.userID, peerAddress: "10.1.0.1:6000", leaseExpiryMillis: 0))
}

func listed(_ groups: [(id: String, owner: String, members: UInt32)]) -> ClientResponse {
    .result(.ok(.groups(Page(items: groups.map { GroupSummary(groupID: $0.id, ownerID: $0.owner, memberCount: $0.members) }))))
}

func metadata(_ name: String, digest: UInt8 = 1) -> FileMetadata {
    FileMetadata(name: name, sizeBytes: 1_000, pieceSizeBytes: Limits.standard.pieceSizeBytes,
                 pieceHashes: [UInt8](repeating: digest, count: 20), fileHash: [UInt8](repeating: 7, count: 20))
}

/// Expects exactly one failing partition, named `partition`, whose report mentions `words`.
func expectFailure(_ report: LinearizabilityReport, partition: String, mentioning words: [String],
                   sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(report.failures.map(\.partition) == [partition], "\(report.failures)", sourceLocation: sourceLocation)
    let detail = report.failures.first?.detail ?? ""
    #expect(detail.contains(partition), sourceLocation: sourceLocation)
    for word in words { #expect(detail.contains(word), "\(detail)", sourceLocation: sourceLocation) }
}

@Suite("Linearizability checker: hand-written histories")
struct LinearizabilityTests {
    @Test("a sequential history of every operation passes: requests, hand-over to the longest member, deletion when empty")
    func sequentialPasses() {
        var h = HistoryBuilder()
        let s = h.logIn(["a", "b", "c"])
        h.add(0, 10, 11, .createGroup(s[0], groupID: "g"), done)
        h.add(1, 12, 13, .joinGroup(s[1], groupID: "g"), done)
        h.add(2, 14, 15, .joinGroup(s[2], groupID: "g"), done)
        h.add(1, 16, 17, .joinGroup(s[1], groupID: "g"), failed(.alreadyPending))
        h.add(0, 18, 19, .listRequests(s[0], groupID: "g"), .result(.ok(.requests(Page(items: ["b", "c"])))))
        h.add(1, 20, 21, .acceptRequest(s[1], groupID: "g", userID: "c"), failed(.notOwner))
        h.add(0, 22, 23, .acceptRequest(s[0], groupID: "g", userID: "c"), done)
        h.add(0, 24, 25, .acceptRequest(s[0], groupID: "g", userID: "b"), done)
        h.add(0, 26, 27, .uploadFile(s[0], groupID: "g", metadata: metadata("f")), done)
        h.add(2, 28, 29, .uploadFile(s[2], groupID: "g", metadata: metadata("f")), done)
        h.add(1, 30, 31, .uploadFile(s[1], groupID: "g", metadata: metadata("f", digest: 2)), failed(.fileConflict))
        h.add(1, 32, 33, .listFiles(s[1], groupID: "g"), .result(.ok(.files(Page(items: [FileSummary(name: "f", sizeBytes: 1_000, onlineSharerCount: 2)])))))
        let info = DownloadInfo(metadata: metadata("f"), peers: [PeerInfo(userID: "a", peerAddress: "x", pieces: [0x80])])
        h.add(1, 34, 35, .downloadInfo(s[1], groupID: "g", fileName: "f"), .result(.ok(.download(info))))
        h.add(0, 36, 37, .leaveGroup(s[0], groupID: "g"), done)
        h.add(1, 38, 39, .listGroups(s[1]), listed([("g", "c", 2)]))
        h.add(2, 40, 41, .listRequests(s[2], groupID: "g"), .result(.ok(.requests(Page(items: [String]())))))
        h.add(2, 42, 43, .leaveGroup(s[2], groupID: "g"), done)
        h.add(1, 44, 45, .listFiles(s[1], groupID: "g"), .result(.ok(.files(Page(items: [FileSummary]())))))
        h.add(1, 46, 47, .leaveGroup(s[1], groupID: "g"), done)
        h.add(1, 48, 49, .listGroups(s[1]), listed([]))
        h.add(2, 50, 51, .createGroup(s[2], groupID: "g"), done)
        h.add(0, 52, 53, .logout(s[0]), done)
        h.add(0, 54, 55, .listGroups(s[0]), failed(.notLoggedIn))
        let report = h.check()
        #expect(report.isLinearizable, "\(report.failures)")
        #expect(report.partitionCount == 4)
    }

    @Test("overlapping operations pass when some order fits, including one against call order")
    func overlappingNeedsReordering() {
        var h = HistoryBuilder()
        let s = h.logIn(["a", "b", "c"])
        // a's create was called first but answered "exists": b's, called later, went first.
        h.add(0, 10, 100, .createGroup(s[0], groupID: "g"), failed(.groupExists))
        h.add(1, 20, 30, .createGroup(s[1], groupID: "g"), done)
        // c's read overlaps b's create and already sees it; a later read must too.
        h.add(2, 15, 25, .listGroups(s[2]), listed([("g", "b", 1)]))
        h.add(2, 40, 50, .listGroups(s[2]), listed([("g", "b", 1)]))
        // A join overlapping the owner's read may show either way.
        h.add(0, 60, 80, .joinGroup(s[0], groupID: "g"), done)
        h.add(1, 65, 70, .listRequests(s[1], groupID: "g"), .result(.ok(.requests(Page(items: [String]())))))
        h.add(1, 66, 75, .listRequests(s[1], groupID: "g"), .result(.ok(.requests(Page(items: ["a"])))))
        let report = h.check()
        #expect(report.isLinearizable, "\(report.failures)")
    }

    @Test("an unknown create may have taken effect: it explains a later exists and listing")
    func openOperationTookEffect() {
        var h = HistoryBuilder()
        let s = h.logIn(["a", "b"])
        h.add(0, 10, nil, .createGroup(s[0], groupID: "g"), nil)
        h.add(1, 50, 60, .createGroup(s[1], groupID: "g"), failed(.groupExists))
        h.add(1, 70, 80, .listGroups(s[1]), listed([("g", "a", 1)]))
        h.add(1, 90, nil, .joinGroup(s[1], groupID: "g"), nil)
        h.add(0, 95, 99, .listRequests(s[0], groupID: "g"), .result(.ok(.requests(Page(items: ["b"])))))
        #expect(h.check().isLinearizable)
    }

    @Test("an unknown create may never have happened: others create the group and never see it")
    func openOperationNeverHappened() {
        var h = HistoryBuilder()
        let s = h.logIn(["a", "b"])
        h.add(0, 10, nil, .createGroup(s[0], groupID: "g"), nil)
        h.add(0, 12, nil, .login(userID: "a", password: "pw"), nil)
        h.add(1, 50, 60, .listGroups(s[1]), listed([]))
        h.add(1, 70, 80, .createGroup(s[1], groupID: "g"), done)
        h.add(1, 90, 95, .listGroups(s[1]), listed([("g", "b", 1)]))
        // a's session still works: the unknown login need not have happened.
        h.add(0, 96, 97, .keepAlive(s[0]), .result(.ok(.session(SessionInfo(userID: "a", peerAddress: "x", leaseExpiryMillis: 1)))))
        #expect(h.check().isLinearizable)
    }

    @Test("a stale read fails: a listing misses a group whose creation was acknowledged before it began")
    func staleReadFails() {
        var h = HistoryBuilder()
        let s = h.logIn(["a", "b"])
        h.add(0, 10, 20, .createGroup(s[0], groupID: "g"), done)
        h.add(1, 30, 40, .listGroups(s[1]), listed([]))
        expectFailure(h.check(), partition: "group:g", mentioning: ["cannot place", "list_groups", "does not list g", "create_group g → done"])
    }

    @Test("a stale read of files fails: list_files misses an acknowledged upload")
    func staleFileReadFails() {
        var h = HistoryBuilder()
        let s = h.logIn(["a"])
        h.add(0, 10, 11, .createGroup(s[0], groupID: "g"), done)
        h.add(0, 12, 13, .uploadFile(s[0], groupID: "g", metadata: metadata("f")), done)
        h.add(0, 14, 15, .listFiles(s[0], groupID: "g"), .result(.ok(.files(Page(items: [FileSummary]())))))
        expectFailure(h.check(), partition: "group:g", mentioning: ["list_files g → files []"])
    }

    @Test("a lost acknowledged write fails: the owner never sees an acknowledged join request")
    func lostWriteFails() {
        var h = HistoryBuilder()
        let s = h.logIn(["a", "b"])
        h.add(0, 10, 11, .createGroup(s[0], groupID: "g"), done)
        h.add(1, 12, 20, .joinGroup(s[1], groupID: "g"), done)
        h.add(0, 25, 30, .listRequests(s[0], groupID: "g"), .result(.ok(.requests(Page(items: [String]())))))
        expectFailure(h.check(), partition: "group:g", mentioning: ["list_requests g → requests []"])
    }

    @Test("a write applied twice fails: two clients are both told they created the group, in sequence or overlapping")
    func doubleCreateFails() {
        var sequential = HistoryBuilder()
        var s = sequential.logIn(["a", "b"])
        sequential.add(0, 10, 20, .createGroup(s[0], groupID: "g"), done)
        sequential.add(1, 30, 40, .createGroup(s[1], groupID: "g"), done)
        expectFailure(sequential.check(), partition: "group:g", mentioning: ["b@", "create_group g → done"])

        var overlapping = HistoryBuilder()
        s = overlapping.logIn(["a", "b"])
        overlapping.add(0, 10, 50, .createGroup(s[0], groupID: "g"), done)
        overlapping.add(1, 20, 40, .createGroup(s[1], groupID: "g"), done)
        expectFailure(overlapping.check(), partition: "group:g", mentioning: ["create_group g → done"])
    }

    @Test("a read of a value never written fails: a listed group nobody created, a peer that never shared")
    func phantomReadFails() {
        var h = HistoryBuilder()
        let s = h.logIn(["a", "b"])
        h.add(1, 10, 20, .listGroups(s[1]), listed([("ghost", "a", 1)]))
        expectFailure(h.check(), partition: "group:ghost", mentioning: ["lists ghost (owner a, 1 members)", "{no group}"])

        var files = HistoryBuilder()
        let t = files.logIn(["a", "b"])
        files.add(0, 10, 11, .createGroup(t[0], groupID: "g"), done)
        files.add(0, 12, 13, .uploadFile(t[0], groupID: "g", metadata: metadata("f")), done)
        let info = DownloadInfo(metadata: metadata("f"), peers: [PeerInfo(userID: "b", peerAddress: "x", pieces: [0x80])])
        files.add(0, 14, 15, .downloadInfo(t[0], groupID: "g", fileName: "f"), .result(.ok(.download(info))))
        expectFailure(files.check(), partition: "group:g", mentioning: ["download_info g f → f 1000B from [b]"])
    }

    @Test("a session a newer login of its user replaced cannot be used; a logged-out one neither")
    func replacedSessionFails() {
        var h = HistoryBuilder()
        let first = SpecSession(userID: "u", token: [UInt8](repeating: 1, count: 16))
        let second = SpecSession(userID: "u", token: [UInt8](repeating: 2, count: 16))
        h.add(0, 0, 1, .createUser(userID: "u", password: "pw"), done)
        h.add(0, 2, 3, .login(userID: "u", password: "pw"), loggedIn(first))
        h.add(1, 4, 5, .login(userID: "u", password: "pw"), loggedIn(second))
        h.add(0, 6, 7, .createGroup(first, groupID: "g"), done)
        expectFailure(h.check(), partition: "user:u", mentioning: ["session check of u@"])

        var out = HistoryBuilder()
        out.add(0, 0, 1, .createUser(userID: "u", password: "pw"), done)
        out.add(0, 2, 3, .login(userID: "u", password: "pw"), loggedIn(first))
        out.add(0, 4, 5, .logout(first), done)
        out.add(0, 6, 7, .keepAlive(first), .result(.ok(.session(SessionInfo(userID: "u", peerAddress: "x", leaseExpiryMillis: 1)))))
        expectFailure(out.check(), partition: "user:u", mentioning: ["keepalive → session renewed"])
    }

    @Test("users: a create acknowledged twice fails; a login refused after the user was created fails")
    func userRulesFail() {
        var h = HistoryBuilder()
        h.add(0, 0, 10, .createUser(userID: "u", password: "pw"), done)
        h.add(1, 20, 30, .createUser(userID: "u", password: "pw"), done)
        expectFailure(h.check(), partition: "user:u", mentioning: ["create_user u → done"])

        var login = HistoryBuilder()
        login.add(0, 0, 10, .createUser(userID: "u", password: "pw"), done)
        login.add(1, 20, 30, .login(userID: "u", password: "pw"), .rejected(reason: "wrong user id or password"))
        login.add(1, 40, 50, .login(userID: "u", password: "other"), .rejected(reason: "wrong user id or password"))
        expectFailure(login.check(), partition: "user:u", mentioning: ["login u → rejected"])
    }

    @Test("the owner hands over to the longest-standing member: a listing still naming the leaver fails")
    func handOverRuleFails() {
        var h = HistoryBuilder()
        let s = h.logIn(["a", "b", "c"])
        h.add(0, 10, 11, .createGroup(s[0], groupID: "g"), done)
        h.add(2, 12, 13, .joinGroup(s[2], groupID: "g"), done)
        h.add(1, 14, 15, .joinGroup(s[1], groupID: "g"), done)
        h.add(0, 16, 17, .acceptRequest(s[0], groupID: "g", userID: "c"), done)
        h.add(0, 18, 19, .acceptRequest(s[0], groupID: "g", userID: "b"), done)
        h.add(0, 20, 21, .leaveGroup(s[0], groupID: "g"), done)
        h.add(1, 22, 23, .listGroups(s[1]), listed([("g", "b", 2)]))
        expectFailure(h.check(), partition: "group:g", mentioning: ["lists g (owner b, 2 members)", "members c,b"])
    }

    @Test("a search over its step bound is inconclusive: neither a pass nor a failure")
    func stepBoundIsInconclusive() {
        var h = HistoryBuilder()
        let s = h.logIn(["a", "b", "c"])
        for round in 0..<4 {
            let start = UInt64(10 + 10 * round)
            h.add(round % 3, start, nil, .joinGroup(s[round % 3], groupID: "g"), nil)
            h.add((round + 1) % 3, start + 1, nil, .createGroup(s[(round + 1) % 3], groupID: "g"), nil)
            h.add((round + 2) % 3, start + 2, nil, .leaveGroup(s[(round + 2) % 3], groupID: "g"), nil)
        }
        h.add(0, 100, 110, .listRequests(s[0], groupID: "g"), .result(.ok(.requests(Page(items: ["zz"])))))
        let bounded = h.check(stepsMax: 50)
        #expect(bounded.inconclusive == ["group:g"])
        #expect(bounded.failures.isEmpty)
        #expect(!bounded.isLinearizable)
        let full = h.check()
        #expect(full.inconclusive.isEmpty)
        #expect(full.failures.map(\.partition) == ["group:g"])
    }
}
