/// A fixed-size set of piece indices as 64-bit words: O(1) insert, remove and test, and scans
/// that skip 64 absent pieces per word. Indices outside `0..<count` are ignored (never a trap).
public struct PieceBits: Equatable, Sendable {
    /// How many indices the set can hold: `0..<count`.
    public let count: Int
    private(set) var words: [UInt64]
    /// Indices in the set.
    public private(set) var memberCount = 0

    /// An empty set for `count` indices (a negative count is taken as 0).
    public init(count: Int) {
        self.count = max(0, count)
        words = Array(repeating: 0, count: (self.count + 63) / 64)
    }

    /// The set of the flags that are true, for `flags.count` indices.
    public init(flags: [Bool]) {
        self.init(count: flags.count)
        for (index, flag) in flags.enumerated() where flag { insert(index) }
    }

    /// Whether `index` is in the set.
    public func contains(_ index: Int) -> Bool {
        guard index >= 0, index < count else { return false }
        return words[index >> 6] & (1 << UInt64(index & 63)) != 0
    }

    /// Adds `index`; returns whether it was absent.
    @discardableResult
    public mutating func insert(_ index: Int) -> Bool {
        guard index >= 0, index < count, !contains(index) else { return false }
        words[index >> 6] |= 1 << UInt64(index & 63)
        memberCount += 1
        return true
    }

    /// Removes `index`; returns whether it was present.
    @discardableResult
    public mutating func remove(_ index: Int) -> Bool {
        guard contains(index) else { return false }
        words[index >> 6] &= ~(1 << UInt64(index & 63))
        memberCount -= 1
        return true
    }

    /// Whether every index is in the set.
    public var isFull: Bool { memberCount == count }

    /// Every member in ascending order.
    public var members: [Int] {
        var out: [Int] = []
        out.reserveCapacity(memberCount)
        forEachMember(from: 0) { out.append($0); return true }
        return out
    }

    /// Calls `visit` with each member `i >= start`, in ascending order, until it returns false;
    /// `mask` gives, for each word position, the bits to keep (for scanning an intersection
    /// with other sets without building it).
    func forEachMember(from start: Int, mask: (Int) -> UInt64 = { _ in ~0 }, _ visit: (Int) -> Bool) {
        guard start < count else { return }
        var wordIndex = max(0, start) >> 6
        var firstMask: UInt64 = start > 0 ? ~0 << UInt64(start & 63) : ~0
        while wordIndex < words.count {
            var word = words[wordIndex] & mask(wordIndex) & firstMask
            firstMask = ~0
            while word != 0 {
                let bit = word.trailingZeroBitCount
                if !visit(wordIndex << 6 | bit) { return }
                word &= word - 1
            }
            wordIndex += 1
        }
    }

    /// Removes, word by word, the members whose bits `bits(position)` sets (a set difference
    /// without building the other set).
    mutating func remove(where bits: (Int) -> UInt64) {
        for position in words.indices {
            let kept = words[position] & ~bits(position)
            memberCount -= (words[position] ^ kept).nonzeroBitCount
            words[position] = kept
        }
    }

    /// The word at `position` (for intersections in scans).
    func word(at position: Int) -> UInt64 { position < words.count ? words[position] : 0 }
}
