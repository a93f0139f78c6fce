import SeededRandom
import SimNet
import Testing
import TrackerProtocol
import TrackerStateMachine

/// Random histories made linearizable by construction: each operation runs on the real
/// `TrackerStateMachine` at its own linearization point, in sequence, and gets an interval
/// around that point (so neighbours overlap and the checker has to find the order). The real
/// machine answering and `TrackerSpec` judging are two independent readings of the rules.
struct ReferenceHistory {
    static let users = ["u0", "u1", "u2", "shared"]
    static let groups = ["g0", "g1"]
    static let files = ["f0", "f1"]
    static let clientCount = 3
    /// Microseconds between two linearization points, and the most an interval reaches out.
    static let spacingMicros: UInt64 = 10_000
    static let reachMicros: UInt64 = 16_000

    var machine = TrackerStateMachine()
    var random: SeededGenerator
    var operations: [TrackerSpec.Operation] = []
    /// Sessions each client holds, newest last (older ones may have been replaced).
    var sessions: [[SpecSession]] = Array(repeating: [], count: clientCount)
    var tokensMade: UInt8 = 0
    var nowMillis: UInt64 = 1_000

    init(seed: UInt64, count: Int) {
        random = SeededGenerator(seed: seed)
        for _ in 0..<count { addOne() }
    }

    mutating func pick(_ n: Int) -> Int { Int.random(in: 0..<n, using: &random) }

    mutating func addOne() {
        let client = pick(Self.clientCount)
        nowMillis += 10
        if pick(100) < 2 {
            // A lease runs out: the leader ends every session, and no client is told.
            let every = machine.state.expiredSessions(nowMillis: .max, floorMillis: 0, limit: Limits.standard.expiredSessionsPerCommandMax) { _ in nil }
            _ = machine.apply(CommandEnvelope(clientID: 0, sequence: 0, command: .expireSessions(tokenHashes: every, nowMillis: nowMillis)))
        }
        let (input, output) = sessions[client].isEmpty || pick(100) < 12 ? account(client) : sessionOperation(client)
        let point = UInt64(operations.count + 1) * Self.spacingMicros
        let call = point - min(point, UInt64.random(in: 0...Self.reachMicros, using: &random))
        let ret = point + UInt64.random(in: 0...Self.reachMicros, using: &random)
        operations.append(TrackerSpec.Operation(client: client, input: input, output: output, callMicros: call, returnMicros: ret,
                                                id: operations.count))
    }

    static func passwordHash(_ password: String) -> [UInt8] { Array(("hash-" + password + "-padding-to-16").utf8) }

    /// A create_user or a login (sometimes with a wrong password).
    mutating func account(_ client: Int) -> (TrackerCall, ClientResponse) {
        let user = pick(2) == 0 ? "u\(client)" : Self.users[pick(Self.users.count)]
        if pick(100) < 30 {
            let command = TrackerCommand.createUser(userID: user, salt: [UInt8](repeating: 9, count: 8), passwordHash: Self.passwordHash("pw-" + user))
            return (.createUser(userID: user, password: "pw-" + user), .result(apply(command)))
        }
        let password = pick(100) < 85 ? "pw-" + user : "wrong"
        guard case let .ok(.credentials(_, stored)) = machine.query(.credentials(userID: user)), stored == Self.passwordHash(password) else {
            return (.login(userID: user, password: password), .rejected(reason: "wrong user id or password"))
        }
        tokensMade += 1
        let token = [UInt8](repeating: tokensMade, count: 16)
        let result = apply(.openSession(userID: user, tokenHash: TokenHash(token), peerAddress: "10.0.0.1:1", nowMillis: nowMillis))
        guard case let .ok(.session(info)) = result else { return (.login(userID: user, password: password), .result(result)) }
        sessions[client].append(SpecSession(userID: user, token: token))
        return (.login(userID: user, password: password), .loggedIn(token: token, session: info))
    }

    /// An operation with one of the client's sessions, usually its newest.
    mutating func sessionOperation(_ client: Int) -> (TrackerCall, ClientResponse) {
        let held = sessions[client]
        let session = pick(100) < 80 ? held[held.count - 1] : held[pick(held.count)]
        let hash = TokenHash(session.token)
        let group = Self.groups[pick(Self.groups.count)]
        let file = Self.files[pick(Self.files.count)]
        switch pick(12) {
        case 0: return (.createGroup(session, groupID: group), .result(apply(.createGroup(tokenHash: hash, groupID: group))))
        case 1: return (.joinGroup(session, groupID: group), .result(apply(.joinGroup(tokenHash: hash, groupID: group))))
        case 2:
            let user = Self.users[pick(Self.users.count)]
            return (.acceptRequest(session, groupID: group, userID: user),
                    .result(apply(.acceptRequest(tokenHash: hash, groupID: group, userID: user))))
        case 3: return (.leaveGroup(session, groupID: group), .result(apply(.leaveGroup(tokenHash: hash, groupID: group))))
        case 4:
            let metadata = FileMetadata(name: file, sizeBytes: 700_000, pieceSizeBytes: Limits.standard.pieceSizeBytes,
                                        pieceHashes: [UInt8](repeating: UInt8(client % 2), count: 40), fileHash: [UInt8](repeating: 3, count: 20))
            return (.uploadFile(session, groupID: group, metadata: metadata),
                    .result(apply(.uploadFile(tokenHash: hash, groupID: group, metadata: metadata))))
        case 5: return (.keepAlive(session), .result(apply(.keepAlive(tokenHash: hash, nowMillis: nowMillis))))
        case 6: return (.logout(session), .result(apply(.logout(tokenHash: hash))))
        case 7: return (.listRequests(session, groupID: group), .result(machine.query(.listRequests(tokenHash: hash, groupID: group))))
        case 8: return (.listFiles(session, groupID: group), .result(machine.query(.listFiles(tokenHash: hash, groupID: group))))
        case 9:
            return (.downloadInfo(session, groupID: group, fileName: file),
                    .result(machine.query(.downloadInfo(tokenHash: hash, groupID: group, fileName: file))))
        default: return (.listGroups(session), .result(machine.query(.listGroups(tokenHash: hash))))
        }
    }

    mutating func apply(_ command: TrackerCommand) -> TrackerResult {
        machine.apply(CommandEnvelope(clientID: 0, sequence: 0, command: command))
    }
}

/// An answer changed to one the tracker did not give.
func flipped(_ output: ClientResponse) -> ClientResponse {
    switch output {
    case .result(.ok(.done)): return failed(.noSuchGroup)
    case .result(.failed): return done
    case var .result(.ok(.groups(groups))):
        if groups.items.isEmpty { groups.items = [GroupSummary(groupID: "ghost", ownerID: "u0", memberCount: 1)] } else { groups.items.removeFirst() }
        return .result(.ok(.groups(groups)))
    case let .result(.ok(.requests(users))): return .result(.ok(.requests(Page(items: users.items + ["zz"]))))
    case var .result(.ok(.files(files))):
        if files.items.isEmpty { files.items = [FileSummary(name: "zz", sizeBytes: 1, onlineSharerCount: 0)] } else { files.items.removeLast() }
        return .result(.ok(.files(files)))
    case var .result(.ok(.download(info))):
        info.metadata.sizeBytes += 1
        return .result(.ok(.download(info)))
    case .result(.ok(.session)): return failed(.noSuchGroup)
    case .loggedIn: return .rejected(reason: "wrong user id or password")
    case let .rejected(reason): return .loggedIn(token: Array(reason.utf8.prefix(16)), session: SessionInfo(userID: "x", peerAddress: "x", leaseExpiryMillis: 0))
    default: return failed(.invalidInput)
    }
}

@Suite("Linearizability checker: random histories of the real state machine")
struct LinearizabilityPropertyTests {
    static let operationCount = 120

    static func check(_ operations: [TrackerSpec.Operation]) -> LinearizabilityReport {
        LinearizabilityChecker(model: TrackerSpec()).check(operations)
    }

    @Test("a history linearizable by construction passes, with overlapping intervals", arguments: 1...40)
    func constructedHistoryPasses(seed: UInt64) {
        let history = ReferenceHistory(seed: seed, count: Self.operationCount)
        let report = Self.check(history.operations)
        #expect(report.isLinearizable, "seed \(seed): \(report.failures.first?.detail ?? "inconclusive \(report.inconclusive)")")
        #expect(report.partitionCount >= 4)
    }

    @Test("the same history with outcomes made unknown (all but logins, whose tokens are used later) still passes", arguments: 1...20)
    func unknownOutcomesStillPass(seed: UInt64) {
        var history = ReferenceHistory(seed: seed, count: Self.operationCount)
        for index in history.operations.indices where history.pick(100) < 25 {
            if case .login = history.operations[index].input { continue }
            history.operations[index].output = nil
        }
        let report = Self.check(history.operations)
        #expect(report.isLinearizable, "seed \(seed): \(report.failures.first?.detail ?? "inconclusive \(report.inconclusive)")")
    }

    @Test("one output flipped usually fails, in the partition of the flipped operation")
    func flippedOutputUsuallyFails() {
        var failures = 0
        var trials = 0
        for seed in UInt64(1)...150 {
            var history = ReferenceHistory(seed: seed, count: 60)
            let index = history.pick(history.operations.count)
            history.operations[index].output = flipped(history.operations[index].output!)
            let report = Self.check(history.operations)
            trials += 1
            guard !report.failures.isEmpty else { continue }
            failures += 1
            // Only partitions that hold the flipped operation (or a projection of it) fail.
            let holding = TrackerSpec().partition(history.operations).filter { $0.operations.contains { $0.id == index } }.map(\.name)
            #expect(report.failures.allSatisfy { holding.contains($0.partition) }, "seed \(seed): \(report.failures.map(\.partition)) vs \(holding)")
        }
        // Some flips are answers the spec allows too (a session that may have expired, an
        // overlapping write that explains the other outcome).
        #expect(failures * 100 >= trials * 90, "only \(failures) of \(trials) flipped histories failed")
    }
}
