import Foundation
import ProcessHarness
import Testing

/// A cluster of three trackers (or `size`) plus client processes, all killed in `stop()`.
final class Fixture {
    let cluster: TrackerCluster
    let files: String
    private(set) var clients: [ClientProcess] = []

    init(isInsecure: Bool = false, size: Int = 3) throws {
        cluster = try TrackerCluster(size: size, isInsecure: isInsecure, prefix: "client-test")
        files = cluster.directory + "/files"
        try FileManager.default.createDirectory(atPath: files, withIntermediateDirectories: true)
        try cluster.startAll()
        _ = try cluster.waitForLeader()
    }

    /// Starts a client; with `user`, creates that user (password "pw-<user>") and logs in.
    func client(_ name: String, user: String? = nil, extraArguments: [String] = [], port: UInt16? = nil) throws -> ClientProcess {
        let client = try ClientProcess(cluster: cluster, name: name, extraArguments: extraArguments, port: port)
        clients.append(client)
        if let user {
            _ = client.run("create_user \(user) pw-\(user)")
            let login = client.run("login \(user) pw-\(user)")
            try #require(login["ok"] as? Bool == true, "login \(user): \(login)")
        }
        return client
    }

    /// Makes `member` (logged in as `userID`) a member of `group`, owned by `owner`'s user.
    func join(_ member: ClientProcess, userID: String, group: String, owner: ClientProcess) throws {
        let joined = member.run("join_group \(group)")
        try #require(joined["ok"] as? Bool == true, "join_group: \(joined)")
        let accepted = owner.run("accept_request \(group) \(userID)")
        try #require(accepted["ok"] as? Bool == true, "accept_request: \(accepted)")
    }

    /// Has `owner` create `group` and every member join it (the owner accepts each).
    func makeGroup(_ group: String, owner: ClientProcess, members: [(ClientProcess, String)]) throws {
        let created = owner.run("create_group \(group)")
        try #require(created["ok"] as? Bool == true, "create_group: \(created)")
        for (member, userID) in members { try join(member, userID: userID, group: group, owner: owner) }
    }

    /// A new folder for downloads.
    func folder(_ name: String) throws -> String {
        let path = files + "/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func stop() {
        for client in clients { client.stop() }
        cluster.stop()
    }
}
