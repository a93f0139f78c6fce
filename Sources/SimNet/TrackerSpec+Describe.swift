import TrackerProtocol

/// Reports: operations, answers and states in a line each. Passwords are never shown, and a
/// session token only as a 16-bit digest.
extension TrackerSpec {
    /// "u1@3f2a join_group cg-1 → done".
    public func describe(_ input: TrackerCall, _ output: ClientResponse?) -> String {
        describe(input) + " → " + (output.map { describe($0, for: input) } ?? "unknown")
    }

    /// "{members u1,u2 pending [u0] files [...]}", "{user, session 3f2a}".
    public func describe(_ state: TrackerSpecState) -> String {
        switch state {
        case let .user(user):
            guard user.password != nil else { return "{no user}" }
            return "{user, session \(user.session.map(Self.digest) ?? "none")}"
        case let .group(group):
            guard group.exists else { return "{no group}" }
            let files = group.files.map { "\($0.name) \($0.sizeBytes)B shared by \($0.sharers.joined(separator: ","))" }
            return "{members \(group.members.joined(separator: ",")) pending [\(group.pending.joined(separator: ","))] "
                + "files [\(files.joined(separator: "; "))]}"
        }
    }

    func describe(_ input: TrackerCall) -> String {
        func by(_ s: SpecSession) -> String { "\(s.userID)@\(Self.digest(s.token))" }
        switch input {
        case let .createUser(userID, _): return "create_user \(userID)"
        case let .login(userID, _): return "login \(userID)"
        case let .logout(s): return "\(by(s)) logout"
        case let .keepAlive(s): return "\(by(s)) keepalive"
        case let .createGroup(s, id): return "\(by(s)) create_group \(id)"
        case let .joinGroup(s, id): return "\(by(s)) join_group \(id)"
        case let .acceptRequest(s, id, user): return "\(by(s)) accept_request \(id) \(user)"
        case let .leaveGroup(s, id): return "\(by(s)) leave_group \(id)"
        case let .listRequests(s, id): return "\(by(s)) list_requests \(id)"
        case let .listGroups(s): return "\(by(s)) list_groups"
        case let .uploadFile(s, id, m): return "\(by(s)) upload_file \(m.name) \(id)"
        case let .listFiles(s, id): return "\(by(s)) list_files \(id)"
        case let .downloadInfo(s, id, name): return "\(by(s)) download_info \(id) \(name)"
        case let .groupListing(s, id): return "\(by(s)) list_groups (as seen for \(id))"
        case let .sessionCheck(s): return "session check of \(by(s))"
        }
    }

    func describe(_ output: ClientResponse, for input: TrackerCall) -> String {
        switch output {
        case let .result(.failed(error)): return "error \(error.code)"
        case .result(.ok(.done)): return "done"
        case let .result(.ok(.groups(page))):
            guard case let .groupListing(_, id) = input else { return "\(page.items.count) groups\(page.hasMore ? " and more" : "")" }
            return Self.summary(of: id, in: page.items).map { "lists \(id) (owner \($0.ownerID), \($0.memberCount) members)" }
                ?? "does not list \(id)"
        case let .result(.ok(.requests(users))): return "requests [\(users.items.joined(separator: ","))]\(users.hasMore ? " and more" : "")"
        case let .result(.ok(.files(files))):
            return "files [" + files.items.map { "\($0.name) \($0.sizeBytes)B \($0.onlineSharerCount) online" }.joined(separator: "; ") + "]"
        case let .result(.ok(.download(info))):
            return "\(info.metadata.name) \(info.metadata.sizeBytes)B from [\(info.peers.map(\.userID).joined(separator: ","))]"
        case .result(.ok(.session)): return "session renewed"
        case let .result(.ok(reply)): return "\(reply)"
        case let .loggedIn(token, _): return "logged in, session \(Self.digest(token))"
        case .rejected: return "rejected"
        case .redirect, .noLeader, .retryLater, .status, .possiblyStale: return "\(output)"
        }
    }

    /// A 16-bit digest of a token (FNV-1a), enough to tell a report's sessions apart.
    static func digest(_ token: [UInt8]) -> String {
        guard !token.isEmpty else { return "unknown" }
        var hash: UInt32 = 2_166_136_261
        for byte in token { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        let short = String((hash ^ (hash >> 16)) & 0xFFFF, radix: 16)
        return String(repeating: "0", count: 4 - short.count) + short
    }
}
