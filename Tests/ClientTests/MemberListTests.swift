import Foundation
import Networking
import Testing
import TrackerClient
import TrackerProtocol

/// The client's remembered member list: written 0600, read back as untrusted input, never
/// overriding cluster.conf for cluster.conf's own ids.
@Suite("remembered member list")
struct MemberListTests {
    let conf = "1 127.0.0.1:7001 sha256:" + String(repeating: "ab", count: 32) + "\n"

    func folder() throws -> String {
        let path = NSTemporaryDirectory() + "member-list-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        return path
    }

    func status(_ members: [TrackerStatus.Member]) -> TrackerStatus {
        var status = TrackerStatus(id: 4, role: .leader, term: 2, leader: 4, commitIndex: 1, appliedIndex: 1, lastIndex: 1, followerMatch: [])
        status.members = members
        return status
    }

    @Test("learned members are written 0600 and read back by a later client; cluster.conf's ids in the file are ignored")
    func roundTrip() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cluster = try ClusterConfig.parse(text: conf, fileName: "test")
        let path = dir + "/members"
        let first = ClusterMembers(cluster: cluster, filePath: path)
        #expect(first.loadProblem == nil && first.trackers.isEmpty, "no file: nothing remembered, no problem")
        let pin = [UInt8](repeating: 7, count: 32)
        let problem = first.learn(status([TrackerStatus.Member(id: 1, address: "10.0.0.9:1", role: .voter),
                                          TrackerStatus.Member(id: 4, address: "127.0.0.1:7004", role: .voter, fingerprint: pin)]))
        #expect(problem == nil)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let later = ClusterMembers(cluster: cluster, filePath: path)
        #expect(later.loadProblem == nil)
        #expect(later.trackers == [LeaderFinder.Tracker(id: 4, address: "127.0.0.1:7004")], "id 1 stays as cluster.conf says")
    }

    @Test("a bad file is ignored with a reason: garbage, a bad line, unordered ids, too many lines, too large, writable by others")
    func hostileFiles() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cluster = try ClusterConfig.parse(text: conf, fileName: "test")
        let good = "tracker-members 1\n4 127.0.0.1:7004 -\n"
        let bad: [(String, String)] = [
            ("garbage", "\u{0}\u{1}not a list"),
            ("bad line", "tracker-members 1\n4 127.0.0.1:7004 sha256:zz\n"),
            ("no port", "tracker-members 1\n4 127.0.0.1 -\n"),
            ("id zero", "tracker-members 1\n0 127.0.0.1:7004 -\n"),
            ("unordered", "tracker-members 1\n5 127.0.0.1:7005 -\n4 127.0.0.1:7004 -\n"),
            ("too many", "tracker-members 1\n" + (1...65).map { "\($0 + 1) 127.0.0.1:\(8000 + $0) -" }.joined(separator: "\n")),
            ("too large", good + String(repeating: "#", count: 20_000)),
        ]
        for (name, text) in bad {
            let path = dir + "/" + name.replacingOccurrences(of: " ", with: "-")
            #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]))
            let members = ClusterMembers(cluster: cluster, filePath: path)
            #expect(members.loadProblem != nil, "\(name) refused")
            #expect(members.trackers.isEmpty, "\(name) not used")
        }
        let open = dir + "/open"
        #expect(FileManager.default.createFile(atPath: open, contents: Data(good.utf8), attributes: [.posixPermissions: 0o666]))
        #expect(ClusterMembers(cluster: cluster, filePath: open).loadProblem != nil, "a file others may write is not trusted")
        let fine = dir + "/fine"
        #expect(FileManager.default.createFile(atPath: fine, contents: Data(good.utf8), attributes: [.posixPermissions: 0o600]))
        #expect(ClusterMembers(cluster: cluster, filePath: fine).trackers == [LeaderFinder.Tracker(id: 4, address: "127.0.0.1:7004")])
    }
}
