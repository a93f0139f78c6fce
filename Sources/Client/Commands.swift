import Foundation
import Logging
import TrackerProtocol
import TrackerStateMachine

/// A command's name, arguments and whether it needs a login.
struct CommandSpec {
    var name: String
    var arguments: [String]
    var needsLogin: Bool

    var usage: String { ([name] + arguments.map { "<\($0)>" }).joined(separator: " ") }

    static let all: [CommandSpec] = [
        .init(name: "create_user", arguments: ["user_id", "password"], needsLogin: false),
        .init(name: "login", arguments: ["user_id", "password"], needsLogin: false),
        .init(name: "create_group", arguments: ["group_id"], needsLogin: true),
        .init(name: "join_group", arguments: ["group_id"], needsLogin: true),
        .init(name: "leave_group", arguments: ["group_id"], needsLogin: true),
        .init(name: "list_requests", arguments: ["group_id"], needsLogin: true),
        .init(name: "accept_request", arguments: ["group_id", "user_id"], needsLogin: true),
        .init(name: "list_groups", arguments: [], needsLogin: true),
        .init(name: "list_files", arguments: ["group_id"], needsLogin: true),
        .init(name: "upload_file", arguments: ["file_path", "group_id"], needsLogin: true),
        .init(name: "download_file", arguments: ["group_id", "file_name", "destination_path"], needsLogin: true),
        .init(name: "logout", arguments: [], needsLogin: true),
        .init(name: "show_downloads", arguments: [], needsLogin: false),
        .init(name: "stop_share", arguments: ["group_id", "file_name"], needsLogin: true),
        .init(name: "cluster_status", arguments: [], needsLogin: false),
        .init(name: "help", arguments: [], needsLogin: false),
        .init(name: "quit", arguments: [], needsLogin: false),
    ]
}

/// Errors a command reports as its one-line message.
struct CommandError: Error, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

extension ClientApp {
    /// Runs one command line; the reply says what to print.
    func execute(_ words: [String]) -> CommandAnswer {
        guard let name = words.first else { return .ok([]) }
        guard let spec = CommandSpec.all.first(where: { $0.name == name }) else {
            return .failure("unknown command '\(name)'; type help for the list")
        }
        let arguments = Array(words.dropFirst())
        guard arguments.count == spec.arguments.count else { return .failure("usage: \(spec.usage)") }
        if spec.needsLogin && session.withLock({ $0 == nil }) { return .failure("not logged in") }
        do {
            return try run(spec.name, arguments)
        } catch let error as CommandError {
            return .failure(error.message)
        } catch {
            return .failure("\(error)")
        }
    }

    private func run(_ name: String, _ a: [String]) throws -> CommandAnswer {
        switch name {
        case "create_user": return try simple(.createUser(userID: a[0], password: a[1]), "user \(a[0]) created")
        case "login": return try login(userID: a[0], password: a[1])
        case "create_group": return try command(.createGroup(groupID: a[0]), "group \(a[0]) created")
        case "join_group": return try command(.joinGroup(groupID: a[0]), "join request sent to \(a[0])")
        case "leave_group": return try leaveGroup(a[0])
        case "list_requests": return try listRequests(a[0])
        case "accept_request":
            return try command(.acceptRequest(groupID: a[0], userID: a[1]), "\(a[1]) joined \(a[0])")
        case "list_groups": return try listGroups()
        case "list_files": return try listFiles(a[0])
        case "upload_file": return try uploadFile(path: a[0], groupID: a[1])
        case "download_file": return try downloadFile(groupID: a[0], fileName: a[1], destination: a[2])
        case "logout":
            _ = endSession(using: commandTracker)
            return .ok("logged out")
        case "show_downloads": return showDownloads()
        case "stop_share": return try stopShare(groupID: a[0], fileName: a[1])
        case "cluster_status": return clusterStatus()
        case "help": return .ok(Options.usage.split(separator: "\n").map(String.init), [("usage", .string(Options.usage))])
        default: return .ok("bye")  // quit: the caller shuts down after printing this
        }
    }

    /// The raw session token, or `not logged in`.
    func token() throws -> [UInt8] {
        guard let token = session.withLock({ $0?.token }) else { throw CommandError("not logged in") }
        return token
    }

    /// Sends an operation to the cluster and returns the tracker's result, or throws its refusal.
    func call(_ operation: ServiceOperation, token: [UInt8] = []) throws -> TrackerReply {
        try callNotingStale(operation, token: token, allowsStale: false).reply
    }

    /// `call`, and for a data-plane query with `allowsStale` the mark of an answer a tracker
    /// without a leader gave from its applied state (nil: a leader's answer).
    func callNotingStale(_ operation: ServiceOperation, token: [UInt8], allowsStale: Bool) throws -> (reply: TrackerReply, stale: StaleMark?) {
        let response: ClientResponse
        do {
            response = try commandTracker.call(operation, token: token, allowsStale: allowsStale)
        } catch {
            throw CommandError("\(error)")
        }
        switch response {
        case let .result(.ok(reply)): return (reply, nil)
        case let .possiblyStale(.ok(reply), mark): return (reply, mark)
        case let .result(.failed(error)), let .possiblyStale(.failed(error), _): throw CommandError(error.message)
        case let .rejected(reason): throw CommandError(reason)
        case .loggedIn: return (.done, nil)
        default: throw CommandError("unexpected answer from the tracker")
        }
    }

    private func simple(_ operation: ServiceOperation, _ message: String) throws -> CommandAnswer {
        _ = try call(operation)
        return .ok(message)
    }

    func command(_ command: ClientCommand, _ message: String) throws -> CommandAnswer {
        _ = try call(.command(command), token: try token())
        return .ok(message)
    }

    private func leaveGroup(_ groupID: String) throws -> CommandAnswer {
        let reply = try command(.leaveGroup(groupID: groupID), "left \(groupID)")
        registry.removeGroup(groupID)
        if let userID = session.withLock({ $0?.userID }) { try? store.forget(of: userID) { $0.groupID == groupID } }
        return reply
    }

    private func clusterStatus() -> CommandAnswer {
        var lines: [String] = []
        var json: [JSONValue] = []
        let results = cluster.trackers.map { ($0, commandTracker.status(of: $0)) }
        // The leader knows how far each follower's log agrees with its own.
        let leader = results.compactMap { try? $0.1.get() }.filter { $0.role == .leader }.max { $0.term < $1.term }
        for (tracker, result) in results {
            switch result {
            case let .success(s):
                // Saturates: a tracker's numbers are not trusted to be consistent.
                let lag = leader.flatMap { l in l.followerMatch.first { $0.id == s.id }.map { l.lastIndex >= $0.matchIndex ? l.lastIndex - $0.matchIndex : 0 } }
                lines.append("tracker \(s.id) \(tracker.address) \(s.role) term=\(s.term) leader=\(s.leader) commit=\(s.commitIndex) applied=\(s.appliedIndex)"
                             + (lag.map { " lag=\($0)" } ?? ""))
                var fields: [(String, JSONValue)] = [("id", .unsigned(s.id)), ("address", .string(tracker.address.description)),
                                                      ("role", .string("\(s.role)")), ("term", .unsigned(s.term)),
                                                      ("leader", .unsigned(s.leader)), ("commit", .unsigned(s.commitIndex)),
                                                      ("applied", .unsigned(s.appliedIndex))]
                if let lag { fields.append(("lag", .unsigned(lag))) }
                json.append(.object(fields))
            case let .failure(error):
                lines.append("tracker \(tracker.id) \(tracker.address) unreachable: \(error)")
                json.append(.object([("id", .unsigned(tracker.id)), ("address", .string(tracker.address.description)),
                                     ("role", .string("unreachable"))]))
            }
        }
        // The configuration in force, as the leader (else the most recent tracker) sees it.
        let view = leader ?? results.compactMap { try? $0.1.get() }.max { $0.term < $1.term }
        let members = view?.members ?? []
        if view != nil && leader == nil { lines.append("no leader: writes and logins wait for a quorum") }
        for m in members { lines.append("member \(m.id) \(m.address) \(m.role)") }
        let memberJSON: [JSONValue] = members.map {
            .object([("id", .unsigned($0.id)), ("address", .string($0.address)), ("role", .string("\($0.role)"))])
        }
        return .ok(lines, [("trackers", .array(json)), ("members", .array(memberJSON))])
    }
}
