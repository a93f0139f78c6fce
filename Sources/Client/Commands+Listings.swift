import Logging
import TrackerProtocol
import TrackerStateMachine

extension ClientLimits {
    /// Most items `list_groups`, `list_files` and `list_requests` fetch and print, over all
    /// pages; a listing cut here says so (`"more": true` with `--json`).
    static let listedItemsMax = 10_000
}

/// The paged listings: every page fetched in turn, up to `ClientLimits.listedItemsMax` items.
extension ClientApp {
    func listRequests(_ groupID: String) throws -> CommandAnswer {
        let (users, isCut) = try fetchPages({ .listRequests(groupID: groupID, page: $0) }) { reply in
            if case let .requests(page) = reply { page } else { nil }
        }
        return Self.listing(users.isEmpty ? ["no pending requests"] : users, ("requests", .array(users.map { .string($0) })), isCut: isCut)
    }

    func listGroups() throws -> CommandAnswer {
        let (groups, isCut) = try fetchPages({ .listGroups(page: $0) }) { reply in
            if case let .groups(page) = reply { page } else { nil }
        }
        let lines = groups.map { "\($0.groupID) owner=\($0.ownerID) members=\($0.memberCount)" }
        let json: [JSONValue] = groups.map {
            .object([("group", .string($0.groupID)), ("owner", .string($0.ownerID)), ("members", .unsigned(UInt64($0.memberCount)))])
        }
        return Self.listing(lines.isEmpty ? ["no groups"] : lines, ("groups", .array(json)), isCut: isCut)
    }

    func listFiles(_ groupID: String) throws -> CommandAnswer {
        var stale: StaleMark?
        let (files, isCut) = try fetchPages({ .listFiles(groupID: groupID, page: $0) }, stale: &stale) { reply in
            if case let .files(page) = reply { page } else { nil }
        }
        let lines = files.map { "\($0.name) \($0.sizeBytes) bytes, \($0.onlineSharerCount) online sharers" }
        let json: [JSONValue] = files.map {
            .object([("name", .string($0.name)), ("size", .unsigned($0.sizeBytes)),
                     ("online_sharers", .unsigned(UInt64($0.onlineSharerCount)))])
        }
        return Self.listing(lines.isEmpty ? ["no files"] : lines, ("files", .array(json)), isCut: isCut).markedStale(stale)
    }

    /// The lines and the JSON field of a listing; a cut listing ends with a line saying so and
    /// gains `"more": true`.
    static func listing(_ lines: [String], _ field: (String, JSONValue), isCut: Bool) -> CommandAnswer {
        guard isCut else { return .ok(lines, [field]) }
        return .ok(lines + ["(more not shown: the first \(ClientLimits.listedItemsMax) are listed)"], [field, ("more", .bool(true))])
    }

    /// Every page of a listing, up to `listedItemsMax` items, and whether any were left out.
    func fetchPages<Item: PageItem>(_ query: (PageRequest) -> ClientQuery,
                                    _ page: (TrackerReply) -> Page<Item>?) throws -> (items: [Item], isCut: Bool) {
        var ignored: StaleMark?
        return try fetchPages(query, allowsStale: false, stale: &ignored, page)
    }

    /// `fetchPages` of a data-plane listing that takes possibly stale pages when no leader is
    /// found; `stale` is the mark of the last such page (nil when every page was a leader's).
    func fetchPages<Item: PageItem>(_ query: (PageRequest) -> ClientQuery, allowsStale: Bool = true, stale: inout StaleMark?,
                                    _ page: (TrackerReply) -> Page<Item>?) throws -> (items: [Item], isCut: Bool) {
        let token = try token()
        var mark: StaleMark?
        defer { stale = mark }
        do {
            return try Page<Item>.collect(upTo: ClientLimits.listedItemsMax) { request in
                let answer = try callNotingStale(.query(query(request)), token: token, allowsStale: allowsStale)
                if let got = answer.stale { mark = got }
                guard let next = page(answer.reply) else {
                    throw CommandError("unexpected answer from the tracker")
                }
                return next
            }
        } catch let error as PagingError {
            throw CommandError(error.description)
        }
    }
}
