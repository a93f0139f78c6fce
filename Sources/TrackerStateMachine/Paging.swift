/// Which page of a listing a query wants: the items whose keys (group id, file name, user id)
/// come after `after` in byte order, at most `limit` of them (cut to `Limits.pageItemsMax`).
///
/// Every listing is sorted by its key, so the last key of one page is the cursor of the next,
/// and it keeps working when that key is deleted in between: every item present throughout is
/// listed exactly once over the pages, in order.
public struct PageRequest: Equatable, Sendable {
    /// The last key of the previous page, or nil for the first page. Must be a valid name.
    public var after: String?
    /// The most items wanted, at least 1; more than `Limits.pageItemsMax` is read as that.
    public var limit: UInt32

    /// A page after `after` (nil: the first) of at most `limit` items (default: as many as the
    /// tracker allows).
    public init(after: String? = nil, limit: UInt32 = .max) {
        self.after = after
        self.limit = limit
    }

    /// The first page, as large as the tracker allows.
    public static let first = PageRequest()
}

/// An item of a paged listing: its key, the order of the listing and the cursor of the next page.
public protocol PageItem: Equatable, Sendable {
    /// The item's key: unique in its listing.
    var pageKey: String { get }
}

/// One page of a listing: items in key order, and whether more follow the last of them.
public struct Page<Item: PageItem>: Equatable, Sendable {
    /// The page's items, sorted by key.
    public var items: [Item]
    /// Whether the listing has items after the last of `items`; never true for an empty page.
    public var hasMore: Bool

    /// Makes a page.
    public init(items: [Item], hasMore: Bool = false) {
        self.items = items
        self.hasMore = hasMore
    }

    /// What to pass as `PageRequest.after` for the next page, or nil when this is the last page.
    public var nextCursor: String? { hasMore ? items.last?.pageKey : nil }
}

/// Why a listing could not be collected: a page did not start after the one before.
public struct PagingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The cursor the listing stopped at.
    public var cursor: String

    /// Makes an error.
    public init(cursor: String) { self.cursor = cursor }

    /// A sentence for a person.
    public var description: String { "the listing sent a page that does not advance past \(cursor)" }
}

extension Page {
    /// A whole listing, fetched page after page (each asked after the last key of the one
    /// before) until it ends or `itemsMax` items are in hand; `isCut` tells whether any were
    /// left out. Pages whose keys do not advance throw `PagingError`, so this always ends:
    /// every page but the last adds at least one item.
    public static func collect(upTo itemsMax: Int, _ fetch: (PageRequest) throws -> Page<Item>) throws -> (items: [Item], isCut: Bool) {
        var items: [Item] = []
        var cursor: String?
        for _ in 0...max(itemsMax, 0) {
            let page = try fetch(PageRequest(after: cursor))
            let room = itemsMax - items.count
            items += page.items.prefix(room)
            if page.items.count > room || (items.count == itemsMax && page.hasMore) { return (items, true) }
            guard let next = page.nextCursor else { return (items, false) }
            if let cursor, next <= cursor { throw PagingError(cursor: cursor) }
            if let first = page.items.first, let cursor, first.pageKey <= cursor { throw PagingError(cursor: cursor) }
            cursor = next
        }
        return (items, true)
    }
}

extension GroupSummary: PageItem {
    /// The group id.
    public var pageKey: String { groupID }
}

extension FileSummary: PageItem {
    /// The file name.
    public var pageKey: String { name }
}

extension String: PageItem {
    /// A user id (of a join request) is its own key.
    public var pageKey: String { self }
}

enum Paging {
    /// The smallest `count` keys after `cursor`, sorted, and whether any other key follows them.
    ///
    /// One pass that keeps the smallest `count + 1` candidates, sorting and cutting whenever
    /// twice that many pile up: O(n log count) however many keys there are, and the answer
    /// depends only on the set of keys, never on the order a dictionary yields them in.
    static func firstKeys<Keys: Sequence<String>>(of keys: Keys, after cursor: String?, count: Int) -> (keys: [String], hasMore: Bool) {
        let wanted = count + 1
        var kept: [String] = []
        kept.reserveCapacity(min(2 * wanted, 4_096))
        var ceiling: String?
        for key in keys {
            if let cursor, key <= cursor { continue }
            // Keys are unique: one at or above the largest kept cannot be among the smallest.
            if let ceiling, key >= ceiling { continue }
            kept.append(key)
            if kept.count >= 2 * wanted {
                kept.sort()
                kept.removeLast(kept.count - wanted)
                ceiling = kept.last
            }
        }
        kept.sort()
        return (Array(kept.prefix(count)), kept.count > count)
    }
}

extension TrackerState {
    /// The number of items a page holds, after checking the request.
    func pageSize(_ page: PageRequest, limits: Limits) throws(TrackerError) -> Int {
        guard page.limit >= 1 else { throw TrackerError(.invalidInput, "page limit must be at least 1") }
        if let after = page.after { try checkName(after, "page cursor", limits: limits) }
        return Int(min(UInt64(page.limit), UInt64(limits.pageItemsMax)))
    }
}
