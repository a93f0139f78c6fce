import Consensus
import Foundation
import Networking
import Testing

/// An HTTP answer as curl saw it.
struct HTTPAnswer {
    var status: Int
    var headers: String
    var body: String
}

/// One request with curl (a real HTTP client), at most `timeoutSeconds`; nil when curl got no
/// answer (refused, closed, timed out).
func curl(port: UInt16, path: String, method: String = "GET", timeoutSeconds: Int = 5) -> HTTPAnswer? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["curl", "-sS", "-i", "-X", method, "--max-time", "\(timeoutSeconds)", "http://127.0.0.1:\(port)\(path)"]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = Pipe()
    guard (try? process.run()) != nil else { return nil }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { return nil }
    let text = String(decoding: data, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n") else { return nil }
    let headers = String(text[..<split.lowerBound])
    let statusWords = headers.split(separator: "\r\n").first?.split(separator: " ") ?? []
    guard statusWords.count >= 2, let status = Int(statusWords[1]) else { return nil }
    return HTTPAnswer(status: status, headers: headers, body: String(text[split.upperBound...]))
}

/// The value of the series `series` (name with its labels, as printed) in a metrics text.
func metricValue(_ text: String, _ series: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1))
    }
    return nil
}

/// Real trackers with `--metrics-address`, read with curl.
@Suite("tracker-node metrics endpoint", .serialized)
struct MetricsProcessTests {
    /// Starts every tracker of `cluster` with its own metrics port; returns the ports.
    func startWithMetrics(_ cluster: ProcessCluster) throws -> [NodeID: UInt16] {
        var ports: [NodeID: UInt16] = [:]
        for id in cluster.ids {
            let port = try ProcessCluster.freePort()
            ports[id] = port
            // sh execs the tracker with one more flag: the process id stays the tracker's.
            try cluster.start(id, wrapper: ["/bin/sh", "-c", "exec \"$0\" \"$@\" --metrics-address 127.0.0.1:\(port)"])
        }
        return ports
    }

    /// Polls `port`'s metrics until `isDone` holds for the text, at most `timeoutMillis`.
    func waitForMetrics(port: UInt16, timeoutMillis: Int = 10_000, _ isDone: (String) -> Bool) -> String {
        let deadline = Date().addingTimeInterval(Double(timeoutMillis) / 1000)
        var last = ""
        while Date() < deadline {
            if let answer = curl(port: port, path: "/metrics"), answer.status == 200 {
                last = answer.body
                if isDone(last) { return last }
            }
            usleep(50_000)
        }
        return last
    }

    @Test("the leader reports its role and a commit index that grows with writes; it reports each follower's lag; a bad path is 404")
    func leaderAndFollowers() throws {
        let cluster = try ProcessCluster()
        defer { cluster.stop() }
        let ports = try startWithMetrics(cluster)
        let client = try cluster.client()
        let leader = try #require(try cluster.waitForLeader(using: client))
        let followers = cluster.ids.filter { $0 != leader }
        let leaderPort = try #require(ports[leader])

        let before = try #require(curl(port: leaderPort, path: "/metrics"))
        #expect(before.status == 200)
        #expect(before.headers.lowercased().contains("content-type: text/plain; version=0.0.4"))
        let start = waitForMetrics(port: leaderPort) { metricValue($0, "tracker_raft_role{role=\"leader\"}") == 1 }
        #expect(metricValue(start, "tracker_raft_role{role=\"follower\"}") == 0)
        let commitBefore = try #require(metricValue(start, "tracker_raft_commit_index"))

        let token = try session(client, user: "metrics")
        for i in 0..<5 { #expect(try createGroup(client, token, "g\(i)") == .result(.ok(.done))) }
        // Login and five groups: at least six entries committed; every follower caught up.
        let after = waitForMetrics(port: leaderPort) { text in
            (metricValue(text, "tracker_raft_commit_index") ?? 0) >= commitBefore + 6
                && followers.allSatisfy { metricValue(text, "tracker_follower_lag_entries{follower=\"\($0)\"}") == 0 }
        }
        #expect((metricValue(after, "tracker_raft_commit_index") ?? 0) >= commitBefore + 6, "\(after)")
        for follower in followers { #expect(metricValue(after, "tracker_follower_lag_entries{follower=\"\(follower)\"}") == 0) }
        #expect((metricValue(after, "tracker_raft_proposals_total") ?? 0) >= 6)
        #expect((metricValue(after, "tracker_fsync_duration_seconds_count") ?? 0) > 0)
        #expect(metricValue(after, "tracker_fsync_duration_seconds_bucket{le=\"+Inf\"}") == metricValue(after, "tracker_fsync_duration_seconds_count"))
        #expect(metricValue(after, "tracker_sessions_online") == 1)
        #expect((metricValue(after, "tracker_client_connections") ?? 0) >= 1)

        // A follower: its role, no lag series of its own making.
        let followerPort = try #require(ports[followers[0]])
        let followerText = waitForMetrics(port: followerPort) { metricValue($0, "tracker_raft_role{role=\"follower\"}") == 1 }
        #expect(metricValue(followerText, "tracker_raft_role{role=\"follower\"}") == 1)
        #expect(!followerText.contains("tracker_follower_lag_entries"))
        #expect((metricValue(followerText, "tracker_raft_applied_index") ?? 0) >= commitBefore + 6)

        // A follower that is down falls behind by every write since; the other one does not.
        cluster.kill(followers[1])
        for i in 0..<5 { #expect(try createGroup(client, token, "h\(i)") == .result(.ok(.done))) }
        let lagging = waitForMetrics(port: leaderPort) { (metricValue($0, "tracker_follower_lag_entries{follower=\"\(followers[1])\"}") ?? 0) >= 5 }
        #expect((metricValue(lagging, "tracker_follower_lag_entries{follower=\"\(followers[1])\"}") ?? 0) >= 5, "\(lagging)")
        let steady = waitForMetrics(port: leaderPort) { metricValue($0, "tracker_follower_lag_entries{follower=\"\(followers[0])\"}") == 0 }
        #expect(metricValue(steady, "tracker_follower_lag_entries{follower=\"\(followers[0])\"}") == 0)

        #expect(curl(port: leaderPort, path: "/nope")?.status == 404)
        #expect(curl(port: leaderPort, path: "/metrics", method: "POST")?.status == 405)
    }

    @Test("silent connections are bounded and time out: past the bound a scrape is refused, after the deadline it works again")
    func boundedConnections() throws {
        let cluster = try ProcessCluster(size: 1)
        defer { cluster.stop() }
        let port = try #require(try startWithMetrics(cluster)[1])
        #expect(!waitForMetrics(port: port) { $0.contains("tracker_raft_term") }.isEmpty)
        let silent = try (0..<4).map { _ in try Socket.connect(host: "127.0.0.1", port: port, timeoutMillis: 1_000) }
        defer { for socket in silent { socket.close() } }
        usleep(200_000)
        #expect(curl(port: port, path: "/metrics", timeoutSeconds: 1) == nil, "a fifth connection is closed at once")
        // The 2 s read deadline frees the slots (each silent one is answered 408).
        var buffer = [UInt8](repeating: 0, count: 512)
        try silent[0].setReceiveTimeout(millis: 4_000)
        let count = try silent[0].receive(into: &buffer)
        #expect(String(decoding: buffer[0..<count], as: UTF8.self).hasPrefix("HTTP/1.1 408 "))
        for socket in silent { socket.close() }
        usleep(200_000)
        #expect(curl(port: port, path: "/metrics")?.status == 200)
        // An endless head is cut at the size bound.
        let flood = try Socket.connect(host: "127.0.0.1", port: port, timeoutMillis: 1_000)
        defer { flood.close() }
        try flood.send(all: Array(("GET /metrics HTTP/1.1\r\n" + String(repeating: "X-Pad: 0123456789\r\n", count: 600)).utf8))
        try flood.setReceiveTimeout(millis: 4_000)
        let refused = try flood.receive(into: &buffer)
        #expect(String(decoding: buffer[0..<refused], as: UTF8.self).hasPrefix("HTTP/1.1 431 "))
    }
}
