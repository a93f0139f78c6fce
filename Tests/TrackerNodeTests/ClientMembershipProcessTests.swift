import ProcessHarness
import Consensus
import Foundation
import Testing

/// A client follows the cluster through configuration changes: with only the original
/// cluster.conf, it reaches trackers added at runtime with keys of their own (pins learned from
/// an authenticated tracker's status), and a client started later finds the cluster through
/// the member list it remembered in its state directory.
@Suite("client follows membership changes (processes)", .serialized)
struct ClientMembershipProcessTests {
    @Test("3 TLS trackers are replaced by 4, 5, 6 with their own keys: the client keeps working, and a restarted one finds the cluster through its remembered members")
    func clientFollowsReplacedCluster() throws {
        let cluster = try TrackerCluster()
        defer { cluster.stop() }
        #expect(!cluster.fingerprints.isEmpty, "the cluster runs TLS")
        try cluster.startAll()
        _ = try #require(try cluster.waitForLeader())
        let client = try ClientProcess(cluster: cluster, name: "old-conf")
        defer { client.stop() }
        try client.must("create_user alice pw-alice")
        try client.must("login alice pw-alice")
        try client.must("create_group g0")
        // A little over TrackerClient.membersRefreshMillis (1 s): the client learns each change
        // at its next request, as a client in use would, rather than by luck of timing.
        let refresh = 1.2
        let extra: [NodeID: UInt16] = [4: try freePort(), 5: try freePort(), 6: try freePort()]
        for id: NodeID in [4, 5, 6] {
            _ = try cluster.pin(of: id) // its own key, made before it starts (no race with the tracker making it)
            try cluster.startJoining(id, port: extra[id]!)
            let added = try cluster.member(["add", "--id", "\(id)", "--address", "127.0.0.1:\(extra[id]!)"])
            #expect(added.status == 0, "\(added.output)")
            #expect(try cluster.waitForMembers { $0[id] == "voter" })
            Thread.sleep(forTimeInterval: refresh) // a client in use asks for the members again after this
            #expect(client.ok("create_group g\(id)"), "g\(id)")
        }
        // The originals go, the leader among them: after this only 4, 5 and 6 exist.
        for id: NodeID in [1, 2, 3] {
            let removed = try cluster.member(["remove", "--id", "\(id)"])
            #expect(removed.status == 0, "\(removed.output)")
            cluster.kill(id)
            Thread.sleep(forTimeInterval: refresh)
            #expect(client.ok("create_group r\(id)"), "r\(id)")
        }
        let groups = client.run("list_groups")
        #expect(groups["ok"] as? Bool == true, "\(groups)")
        for name in ["g0", "g4", "g6", "r3"] { #expect("\(groups)".contains(name), "\(name) in \(groups)") }
        let file = client.stateDirectory + "/members"
        let remembered = try String(contentsOfFile: file, encoding: .utf8)
        #expect(remembered.hasPrefix("tracker-members 1\n"))
        for id: NodeID in [4, 5, 6] { #expect(remembered.contains("\(id) 127.0.0.1:\(extra[id]!) sha256:"), "\(remembered)") }
        let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        try client.must("logout")
        #expect(client.closeInput() == 0)

        // The same state directory, the same old cluster.conf (every line names a removed tracker).
        let restarted = try ClientProcess(cluster: cluster, name: "old-conf")
        defer { restarted.stop() }
        try restarted.must("login alice pw-alice")
        try restarted.must("create_group after-restart")
        let status = restarted.run("cluster_status")
        #expect("\(status)".contains("\"leader\""), "\(status)")
        // A client without a remembered list has no way to the cluster.
        let fresh = try ClientProcess(confPath: cluster.confPath, folder: cluster.directory, name: "fresh", answerTimeoutMillis: 60_000)
        defer { fresh.stop() }
        #expect(!fresh.ok("login alice pw-alice"))
    }
}
