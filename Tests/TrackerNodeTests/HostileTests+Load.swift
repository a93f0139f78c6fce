import Foundation
import Networking
import Synchronization
import Testing
import TrackerClient
import TrackerProtocol

/// A flag one thread sets and others poll.
final class StopFlag: Sendable {
    private let isSet = Atomic<Bool>(false)
    func set() { isSet.store(true, ordering: .relaxed) }
    var isRaised: Bool { isSet.load(ordering: .relaxed) }
}

/// Calls `call` every `everyMillis` for `seconds`; returns the slowest call in ms and how many
/// did not answer as `isGood` says.
func probe(seconds: Double, everyMillis: UInt32 = 100, _ call: () throws -> ClientResponse,
           isGood: (ClientResponse) -> Bool) -> (worstMillis: Int, bad: [String]) {
    var worst = 0
    var bad: [String] = []
    let start = Date()
    while Date().timeIntervalSince(start) < seconds {
        let callStart = Date()
        do {
            let answer = try call()
            if !isGood(answer) { bad.append("\(answer)") }
        } catch {
            bad.append("\(error)")
        }
        worst = max(worst, millis(since: callStart))
        usleep(everyMillis * 1_000)
    }
    return (worst, bad)
}

func isOK(_ answer: ClientResponse) -> Bool {
    if case .result(.ok) = answer { return true }
    return false
}

extension HostileTests {
    @Test("a client that floods cluster_status and never reads is cut off; everyone else's replies keep flowing")
    func neverReadingFlooder() throws {
        let cluster = try ProcessCluster(extraArguments: ["--insecure"]) // raw frames: the layer TLS carries, in plaintext to reach it; the launcher made a cluster key
        defer { cluster.stop() }
        try cluster.startAll()
        let client = try cluster.client()
        let leader = try #require(try cluster.waitForLeader(using: client))
        let acknowledged = try cluster.acknowledgedGroups(3, prefix: "flood")
        let token = try session(client, user: "steady")
        let flooder = try rawClient(port: cluster.ports[leader]!, from: "127.0.0.3")
        let flood = Worker<Int> {
            let batch = try Frame.encode((0..<500).map { requestFrame(.clusterStatus, tag: UInt64($0)) })
            var sent = 0
            let start = Date()
            while Date().timeIntervalSince(start) < 15 { // blocks once the tracker stops reading; fails once it hangs up
                try flooder.socket.send(all: batch)
                sent += 500
            }
            return sent
        }
        defer { flooder.close() }
        usleep(300_000)
        let keepAlive = probe(seconds: 4, {
            _ = try client.call(.command(.keepAlive), token: token)
            return try client.call(.query(.listGroups()), token: token)
        }, isGood: isOK)
        #expect(keepAlive.bad.isEmpty, "\(keepAlive.bad.prefix(3))")
        #expect(keepAlive.worstMillis < 1_000, "slowest keepalive and listing took \(keepAlive.worstMillis) ms")
        let outcome = try #require(flood.join(seconds: 15), "the flooder was never cut off")
        #expect(throws: (any Error).self, "the tracker closed the flooder's connection") { _ = try outcome.get() }
        #expect(cluster.log(leader).contains("client connection closed: it does not read its replies"))
        try cluster.expectHealthy(acknowledged: acknowledged)
    }

    @Test("a create_user flood from one address is refused 'retry later' past its rate, while another user logs in and keeps alive")
    func passwordFlood() throws {
        let cluster = try ProcessCluster(extraArguments: ["--insecure"]) // raw frames: the layer TLS carries, in plaintext to reach it; the launcher made a cluster key
        defer { cluster.stop() }
        try cluster.startAll()
        let client = try cluster.client()
        let leader = try #require(try cluster.waitForLeader(using: client))
        let acknowledged = try cluster.acknowledgedGroups(2, prefix: "pw")
        #expect(try client.call(.createUser(userID: "steady", password: "pw-steady")) == .result(.ok(.done)))
        let stop = StopFlag()
        let start = Date()
        let floods = (0..<4).map { index in
            Worker<(created: Int, refused: Int)> {
                let clientID = UInt64(5_000 + index)
                let connection = try rawClient(port: cluster.ports[leader]!, from: "127.0.0.5", id: clientID)
                defer { connection.close() }
                var counts = (created: 0, refused: 0)
                var tag: UInt64 = 0
                while !stop.isRaised {
                    let frames = (0..<32).map { _ in
                        tag += 1
                        return requestFrame(.createUser(userID: "flood\(index)x\(tag)", password: "pw"), tag: tag, clientID: clientID)
                    }
                    try connection.writeFrames(frames)
                    for _ in frames {
                        let answer = try decodeAnswer(try connection.readFrame(maxBytes: 1 << 20, deadline: .now + .seconds(30))).response
                        if answer == .result(.ok(.done)) { counts.created += 1 }
                        if case let .retryLater(reason) = answer, reason.contains("password requests") { counts.refused += 1 }
                    }
                }
                return counts
            }
        }
        usleep(1_500_000) // past the address's first burst: the bucket now admits its steady rate
        let loginStart = Date()
        let login = try client.call(.login(userID: "steady", password: "pw-steady", peerAddress: "127.0.0.1:1"))
        let loginMillis = millis(since: loginStart)
        guard case let .loggedIn(token, _) = login else { throw TrackerClientError.unavailable("login: \(login)") }
        #expect(loginMillis < 3_000, "login during the flood took \(loginMillis) ms")
        let keepAlive = probe(seconds: 2, { try client.call(.command(.keepAlive), token: token) },
                              isGood: isOK)
        #expect(keepAlive.bad.isEmpty && keepAlive.worstMillis < 1_000, "worst \(keepAlive.worstMillis) ms, \(keepAlive.bad.prefix(3))")
        stop.set()
        let results = floods.compactMap { try? $0.join(seconds: 30)?.get() }
        let seconds = Date().timeIntervalSince(start)
        #expect(results.count == 4)
        let created = results.reduce(0) { $0 + $1.created }
        let refused = results.reduce(0) { $0 + $1.refused }
        // The address's bucket: a burst of 20, then 5 a second.
        #expect(created <= 20 + Int(5 * seconds) + 5, "\(created) users created by the flood in \(seconds) s")
        #expect(refused > 100, "only \(refused) flood requests refused")
        try cluster.expectHealthy(acknowledged: acknowledged)
    }

    @Test("10,000 reads pipelined on one connection, on two connections at once, are all answered, none refused as overload, while others are served")
    func pipelinedReads() throws {
        let cluster = try ProcessCluster(extraArguments: ["--insecure"]) // raw frames: the layer TLS carries, in plaintext to reach it; the launcher made a cluster key
        defer { cluster.stop() }
        try cluster.startAll()
        let client = try cluster.client()
        let leader = try #require(try cluster.waitForLeader(using: client))
        let acknowledged = try cluster.acknowledgedGroups(3, prefix: "pipe")
        let token = try session(client, user: "piper")
        // Together more than the host's 10,000 pending requests: only the per-connection window
        // keeps two pipelining connections from crowding everyone else out.
        let pipelines = ["127.0.0.4", "127.0.0.8"].map { address in
            Worker<(answered: Int, wrong: [String])> { try pipeline(reads: 10_000, port: cluster.ports[leader]!, from: address, token: token,
                                                               expecting: acknowledged) }
        }
        let other = try cluster.client()
        defer { other.close() }
        let probed = probe(seconds: 2, everyMillis: 50, { try other.call(.query(.listGroups()), token: token) },
                           isGood: isOK)
        #expect(probed.bad.isEmpty && probed.worstMillis < 1_000, "\(probed.worstMillis) ms, \(probed.bad.prefix(3))")
        for pipeline in pipelines {
            let outcome = try #require(try pipeline.join(seconds: 40)?.get())
            #expect(outcome.answered == 10_000 && outcome.wrong.isEmpty, "\(outcome.answered) answered; \(outcome.wrong)")
        }
        try cluster.expectHealthy(acknowledged: acknowledged)
    }
}

/// Sends `reads` list_groups requests back to back on one connection from `address` while
/// reading the answers; returns how many distinct tags were answered and the first answers
/// that were not the expected listing.
func pipeline(reads: Int, port: UInt16, from address: String, token: [UInt8], expecting groups: [String]) throws
    -> (answered: Int, wrong: [String]) {
    let connection = try rawClient(port: port, from: address)
    defer { connection.close() }
    let writer = Worker<Void> {
        for first in stride(from: 0, to: reads, by: 500) {
            try connection.writeFrames((first..<min(first + 500, reads)).map {
                requestFrame(.query(.listGroups()), tag: UInt64($0 + 1), token: token)
            })
        }
    }
    var answered = Set<UInt64>()
    var wrong: [String] = []
    let start = Date()
    while answered.count < reads, Date().timeIntervalSince(start) < 30 {
        let (tag, answer) = try decodeAnswer(try connection.readFrame(maxBytes: 1 << 20, deadline: .now + .seconds(10)))
        if tag >= 1 && tag <= UInt64(reads) { answered.insert(tag) }
        if case let .result(.ok(.groups(listed))) = answer, Set(listed.items.map(\.groupID)).isSuperset(of: groups) { continue }
        if wrong.count < 5 { wrong.append("\(answer)") }
    }
    _ = try writer.join(seconds: 10)?.get()
    return (answered.count, wrong)
}
