import Networking
import Synchronization
import TrackerProtocol

/// The trackers a client knows beyond its cluster.conf, and the certificate each must present.
///
/// Trackers added at runtime (`tracker-node --join`, `member add --fingerprint`) are not in an
/// old cluster.conf. A client learns them from the status of a tracker it has already
/// authenticated (a TLS connection pinned by cluster.conf or by an earlier such status): the
/// configuration in force, each member's address and the fingerprint it pins. One value is
/// shared by the trackers clients of one process; with a file (the client's state directory)
/// it remembers the latest member list between runs.
///
/// Trust: a cluster.conf line always pins its own id, and a remembered entry for an id
/// cluster.conf lists is ignored (the file never overrides cluster.conf). A status learned live
/// from an authenticated tracker may add a pin for a cluster.conf id (the operator re-added it
/// with a new key) and move its address. For a tracker with no pin of its own (an address a
/// redirect named before any status did), any known pin is accepted: it is a cluster member.
public final class ClusterMembers: Sendable {
    /// One member as a tracker's status reported it.
    public struct Member: Equatable, Sendable {
        /// Its id.
        public var id: TrackerID
        /// Where it listens, `host:port`.
        public var address: PeerAddress
        /// The certificate its configuration entry pins (nil: none, e.g. a seed member).
        public var fingerprint: CertificateFingerprint?

        /// Makes a member.
        public init(id: TrackerID, address: PeerAddress, fingerprint: CertificateFingerprint? = nil) {
            self.id = id
            self.address = address
            self.fingerprint = fingerprint
        }
    }

    /// The pins a connection to one tracker accepts, and how to name it in a refusal.
    struct Pins {
        var fingerprints: [CertificateFingerprint]
        /// Whether the pins are the tracker's own (false: any known member's).
        var isSpecific: Bool
        var name: String
    }

    private struct State {
        /// The members the latest status reported (this run), by id.
        var live: [TrackerID: Member] = [:]
        /// Read from the file at start, without cluster.conf's ids.
        var remembered: [TrackerID: Member] = [:]
        /// The list last written (or read), to write only changes.
        var saved: [Member] = []
    }

    /// cluster.conf.
    public let cluster: ClusterConfig
    /// Where the member list is remembered (nil: nowhere).
    public let filePath: String?
    /// Why the remembered list was not used (nil: it was, or there was none).
    public let loadProblem: String?
    private let state: Mutex<State>
    /// Held while the file is written, so writes from several threads do not interleave.
    private let writing = Mutex<Int>(0)

    /// Told why the list could not be written (the caller logs it).
    private let onProblem: (@Sendable (String) -> Void)?

    /// Knows `cluster`, plus the members remembered at `filePath` (read as untrusted input: a
    /// bad file is ignored and `loadProblem` says why). `onProblem` hears of failed writes.
    public init(cluster: ClusterConfig, filePath: String? = nil, onProblem: (@Sendable (String) -> Void)? = nil) {
        self.cluster = cluster
        self.filePath = filePath
        self.onProblem = onProblem
        var initial = State()
        var problem: String?
        if let filePath {
            switch MemberListFile.load(path: filePath) {
            case let .success(members):
                initial.saved = members
                let own = Set(cluster.ids)
                for member in members where !own.contains(member.id) { initial.remembered[member.id] = member }
            case let .failure(error):
                problem = error.reason
            }
        }
        loadProblem = problem
        state = Mutex(initial)
    }

    /// The trackers to search besides cluster.conf's (or moving a cluster.conf tracker's
    /// address), ascending by id: the latest status's members, else the remembered ones.
    public var trackers: [LeaderFinder.Tracker] {
        state.withLock { state in
            var all = state.remembered
            for (id, member) in state.live { all[id] = member }
            return all.values.sorted { $0.id < $1.id }.map { LeaderFinder.Tracker(id: $0.id, address: $0.address.description) }
        }
    }

    /// The members the latest status reported, ascending by id (empty before one).
    public var current: [Member] { state.withLock { $0.live.values.sorted { $0.id < $1.id } } }

    /// Takes the members of `status`, received from an authenticated tracker. Writes the list
    /// when it changed; returns why that failed (nil: written, unchanged or no file), as
    /// `onProblem` is told.
    @discardableResult
    public func learn(_ status: TrackerStatus) -> String? {
        let problem = take(status)
        if let problem { onProblem?(problem) }
        return problem
    }

    private func take(_ status: TrackerStatus) -> String? {
        var members: [Member] = []
        for member in status.members.prefix(LeaderFinder.trackersMax) where member.id != 0 {
            guard member.address.utf8.count <= LeaderFinder.addressBytesMax,
                  let address = try? PeerAddress.parse(member.address) else { continue }
            members.append(Member(id: member.id, address: address, fingerprint: CertificateFingerprint(digest: member.fingerprint)))
        }
        guard !members.isEmpty else { return nil }
        let changed = state.withLock { state -> Bool in
            state.live = Dictionary(members.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            guard state.saved != members else { return false }
            state.saved = members
            return true
        }
        guard changed, let filePath else { return nil }
        return writing.withLock { _ in
            // The latest list, should another thread have learned a newer one meanwhile.
            let latest = state.withLock { $0.saved }
            do throws(MemberListError) {
                try MemberListFile.save(latest, path: filePath)
                return nil
            } catch {
                return error.reason
            }
        }
    }

    /// The pins of tracker `id` (at `address`, for a refusal's text).
    func pins(for id: TrackerID, address: PeerAddress) -> Pins {
        state.withLock { state in
            let learned = state.live[id]?.fingerprint ?? (cluster.address(of: id) == nil ? state.remembered[id]?.fingerprint : nil)
            if let line = cluster.trackers.first(where: { $0.id == id }) {
                let own = [line.fingerprint, learned].compactMap { $0 }
                return Pins(fingerprints: Array(Set(own)).sorted(), isSpecific: !own.isEmpty,
                            name: "cluster.conf: tracker \(id) (\(address))")
            }
            if let learned {
                return Pins(fingerprints: [learned], isSpecific: true, name: "tracker \(id) (\(address)), as the cluster's configuration pins it")
            }
            let known = cluster.fingerprints + state.live.values.compactMap(\.fingerprint) + state.remembered.values.compactMap(\.fingerprint)
            return Pins(fingerprints: Array(Set(known)).sorted(), isSpecific: false, name: "tracker \(id) at \(address)")
        }
    }
}
