import Foundation
import Testing
@testable import TrackerNode

/// The Prometheus text encoder, the series tracker-node builds, and the endpoint's HTTP rules,
/// as pure functions.
@Suite("metrics text and HTTP")
struct MetricsTextTests {
    @Test("label values escape backslash, double quote and line feed; help escapes backslash and line feed")
    func escaping() {
        #expect(PrometheusText.escapeLabelValue(#"a\b"c"# + "\nd") == #"a\\b\"c\nd"#)
        #expect(PrometheusText.escapeLabelValue("plain-2") == "plain-2")
        #expect(PrometheusText.escapeHelp(#"one\two"# + "\nthree \"q\"") == #"one\\two\nthree "q""#)
        let family = MetricFamily(name: "m", help: "h", kind: .gauge,
                                  samples: [MetricSample(labels: [("k", "x\"y")], .integer(1))])
        #expect(PrometheusText.render([family]) == "# HELP m h\n# TYPE m gauge\nm{k=\"x\\\"y\"} 1\n")
    }

    @Test("histogram buckets are cumulative, an observation on a bound counts in it, +Inf holds every one")
    func histogramBuckets() {
        var histogram = Histogram(bounds: [0.01, 0.001, 0.01, .infinity])
        #expect(histogram.bounds == [0.001, 0.01])
        for value in [0.0005, 0.001, 0.003, 100, .nan] { histogram.observe(value) }
        #expect(histogram.count == 4)
        #expect(histogram.cumulativeBuckets.map(\.count) == [2, 3, 4])
        let text = PrometheusText.render([MetricFamily(name: "lat", help: "h", kind: .histogram,
                                                       samples: [MetricSample(labels: [("op", "w")], .histogram(histogram))])])
        #expect(text == """
            # HELP lat h
            # TYPE lat histogram
            lat_bucket{op="w",le="0.001"} 2
            lat_bucket{op="w",le="0.01"} 3
            lat_bucket{op="w",le="+Inf"} 4
            lat_sum{op="w"} \(PrometheusText.number(0.0005 + 0.001 + 0.003 + 100))
            lat_count{op="w"} 4

            """)
    }

    @Test("numbers: whole values without a fraction, shortest decimals, +Inf, -Inf and NaN")
    func numbers() {
        #expect(PrometheusText.number(1) == "1")
        #expect(PrometheusText.number(0) == "0")
        #expect(PrometheusText.number(0.0025) == "0.0025")
        #expect(PrometheusText.number(2.5) == "2.5")
        #expect(PrometheusText.number(.infinity) == "+Inf")
        #expect(PrometheusText.number(-.infinity) == "-Inf")
        #expect(PrometheusText.number(.nan) == "NaN")
        #expect(PrometheusText.number(1e300) == "1e+300")
    }

    @Test("families and samples come out in the order given; a family without samples is left out")
    func order() {
        let families = [
            MetricFamily(name: "z_total", help: "z", kind: .counter, samples: [MetricSample(.integer(UInt64.max))]),
            MetricFamily(name: "empty", help: "e", kind: .gauge, samples: []),
            MetricFamily(name: "a", help: "a", kind: .gauge,
                         samples: [MetricSample(labels: [("f", "3")], .real(0.5)), MetricSample(labels: [("f", "2")], .integer(7))]),
        ]
        #expect(PrometheusText.render(families) == """
            # HELP z_total z
            # TYPE z_total counter
            z_total 18446744073709551615
            # HELP a a
            # TYPE a gauge
            a{f="3"} 0.5
            a{f="2"} 7

            """)
    }

    @Test("tracker-node's series: a fixed family order, one role at 1, follower lag by the sample's order")
    func trackerFamilies() {
        var sample = LoopSample()
        sample.role = .leader
        sample.term = 3
        sample.followerLag = [FollowerLag(id: 2, entries: 0), FollowerLag(id: 3, entries: 9)]
        let families = MetricsFamilies.all(loop: sample, shell: ShellSample())
        #expect(families.map(\.name) == [
            "tracker_raft_role", "tracker_raft_term", "tracker_raft_leader", "tracker_raft_commit_index",
            "tracker_raft_applied_index", "tracker_raft_last_index", "tracker_raft_leader_changes_total",
            "tracker_raft_proposals_total", "tracker_raft_committed_entries_total", "tracker_raft_applied_entries_total",
            "tracker_fsync_duration_seconds", "tracker_apply_duration_seconds", "tracker_follower_lag_entries",
            "tracker_raft_messages_refused_by_core_total", "tracker_pending_requests", "tracker_sessions_online",
            "tracker_snapshot_index", "tracker_snapshot_bytes", "tracker_snapshots_installed_total",
            "tracker_client_connections", "tracker_connections_refused_total", "tracker_handshakes_refused_total",
            "tracker_raft_messages_refused_total", "tracker_snapshot_duration_seconds",
        ])
        let text = PrometheusText.render(families)
        #expect(text.contains("tracker_raft_role{role=\"leader\"} 1\n"))
        #expect(text.contains("tracker_raft_role{role=\"follower\"} 0\n"))
        #expect(text.components(separatedBy: "tracker_raft_role{").count - 1 == 4)
        #expect(text.contains("tracker_follower_lag_entries{follower=\"2\"} 0\ntracker_follower_lag_entries{follower=\"3\"} 9\n"))
        // Before the first publication only the shell's series exist.
        #expect(MetricsFamilies.all(loop: nil, shell: ShellSample()).first?.name == "tracker_client_connections")
    }

    @Test("loop counts: a leader is counted once per (term, leader); commits are the commit index's advance")
    func loopCounts() {
        var metrics = LoopMetrics(commitIndex: 10)
        metrics.observeBatch(term: 1, leader: 0, commitIndex: 10, ownEntries: 0, applied: 0)
        #expect(metrics.leaderChanges == 0)
        metrics.observeBatch(term: 2, leader: 1, commitIndex: 12, ownEntries: 1, applied: 2)
        metrics.observeBatch(term: 2, leader: 1, commitIndex: 12, ownEntries: 3, applied: 0)
        #expect(metrics.leaderChanges == 1)
        metrics.observeBatch(term: 3, leader: 1, commitIndex: 11, ownEntries: 0, applied: 1)
        metrics.observeBatch(term: 3, leader: 2, commitIndex: 15, ownEntries: -4, applied: 0)
        #expect(metrics.leaderChanges == 3)
        #expect(metrics.committedEntries == 5)
        #expect(metrics.proposals == 4)
        #expect(metrics.appliedEntries == 3)
    }
}

/// The endpoint's request rules.
@Suite("metrics HTTP")
struct MetricsHTTPTests {
    func route(_ text: String) -> MetricsHTTP.Route { MetricsHTTP.route(head: Array(text.utf8)) }

    @Test("GET /metrics is 200 (with a query too), HEAD has no body, another path 404, another method 405, junk 400")
    func routes() {
        #expect(route("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n") == .init(status: .ok, hasBody: true))
        #expect(route("GET /metrics?x=1 HTTP/1.0\r\n\r\n") == .init(status: .ok, hasBody: true))
        #expect(route("HEAD /metrics HTTP/1.1\r\n\r\n") == .init(status: .ok, hasBody: false))
        #expect(route("GET / HTTP/1.1\r\n\r\n").status == .notFound)
        #expect(route("GET /metricsx HTTP/1.1\r\n\r\n").status == .notFound)
        #expect(route("POST /metrics HTTP/1.1\r\n\r\n").status == .methodNotAllowed)
        #expect(route("DELETE /nope HTTP/1.1\r\n\r\n").status == .methodNotAllowed)
        #expect(route("GET /metrics\r\n\r\n").status == .badRequest)
        #expect(route("GET  /metrics HTTP/1.1\r\n\r\n").status == .badRequest)
        #expect(route("GET /metrics SPDY/3\r\n\r\n").status == .badRequest)
        #expect(route("get /metrics HTTP/1.1\r\n\r\n").status == .badRequest)
        #expect(route("GET /met\u{1}rics HTTP/1.1\r\n\r\n").status == .badRequest)
        #expect(MetricsHTTP.route(head: [0xFF, 0xFE, 0x0A]).status == .badRequest)
        #expect(route("").status == .badRequest)
    }

    @Test("a head ends at a blank line (CRLF or LF); until then it is incomplete")
    func headEnd() {
        #expect(MetricsHTTP.headEnd(in: Array("GET / HTTP/1.1\r\nA: b\r\n\r\nrest".utf8)) == 24)
        #expect(MetricsHTTP.headEnd(in: Array("GET / HTTP/1.1\n\n".utf8)) == 16)
        #expect(MetricsHTTP.headEnd(in: Array("GET / HTTP/1.1\r\nA: b\r\n".utf8)) == nil)
        #expect(MetricsHTTP.headEnd(in: Array("GET / HTTP/1.1\r\n\r".utf8)) == nil)
        #expect(MetricsHTTP.headEnd(in: []) == nil)
    }

    @Test("answers carry the 0.0.4 content type, an exact Content-Length, Connection: close, Allow on 405")
    func answers() {
        let ok = String(decoding: MetricsHTTP.answer(head: Array("GET /metrics HTTP/1.1\r\n\r\n".utf8)) { "m 1\n" }, as: UTF8.self)
        #expect(ok == "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: 4\r\n"
            + "Connection: close\r\n\r\nm 1\n")
        let head = String(decoding: MetricsHTTP.answer(head: Array("HEAD /metrics HTTP/1.1\r\n\r\n".utf8)) { "m 1\n" }, as: UTF8.self)
        #expect(head.hasSuffix("Content-Length: 4\r\nConnection: close\r\n\r\n"))
        var rendered = false
        let notFound = String(decoding: MetricsHTTP.answer(head: Array("GET /x HTTP/1.1\r\n\r\n".utf8)) {
            rendered = true
            return ""
        }, as: UTF8.self)
        #expect(!rendered)
        #expect(notFound.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        let refused = String(decoding: MetricsHTTP.answer(head: Array("PUT /metrics HTTP/1.1\r\n\r\n".utf8)) { "" }, as: UTF8.self)
        #expect(refused.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n") && refused.contains("\r\nAllow: GET, HEAD\r\n"))
    }
}
