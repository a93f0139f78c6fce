import BinaryCoding

/// Where a possibly stale answer came from: the tracker, and the log index its applied state
/// had reached (the answer reflects every entry through it, maybe not later ones).
public struct StaleMark: Equatable, Sendable {
    /// The tracker that answered.
    public var tracker: TrackerID
    /// Its applied index when it answered.
    public var appliedIndex: UInt64

    /// Makes a mark.
    public init(tracker: TrackerID, appliedIndex: UInt64) {
        self.tracker = tracker
        self.appliedIndex = appliedIndex
    }
}

extension ClientQuery {
    /// The read-only data plane a tracker without a leader may answer from its applied state
    /// (`ClientRequest.allowsStale`): a group's files, a file's metadata and sharers (metadata
    /// never changes once uploaded; sharers may be out of date), and the membership check a
    /// peer server makes before it serves pieces. Membership and the caller's session are
    /// still checked, against the same applied state. Everything else (sessions, group and
    /// request listings, every command, logins) waits for a leader.
    public var isStaleReadable: Bool {
        switch self {
        case .listFiles, .downloadInfo, .memberSession: true
        case .session, .listGroups, .listRequests: false
        }
    }
}

/// The flags byte that may end a request (absent: no flag; older trackers refuse it, and a
/// client only sends it after its leader search failed).
enum RequestFlags {
    static let allowsStale: UInt8 = 1

    /// Reads the optional flags byte: absent means none; unknown bits are malformed.
    static func read(_ r: inout ByteReader) throws -> Bool {
        guard !r.isAtEnd else { return false }
        let offset = r.position
        let flags = try r.readUInt8()
        guard flags == allowsStale else { throw DecodingError("unknown request flags", offset: offset) }
        return true
    }
}
