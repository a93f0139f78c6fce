import Glibc

/// The tracker cluster as listed in `cluster.conf`: one tracker a line,
/// `<id> <host>:<port> [sha256:<hex>] [voter|witness]` (the tracker's certificate fingerprint,
/// then its role, in this order; both optional); `#` starts a comment anywhere on a line;
/// blank lines are ignored.
///
/// Ids are 1...65535 and unique; addresses are unique as written (`localhost:7001` and
/// `127.0.0.1:7001` are not recognised as the same: nothing is resolved while parsing).
public struct ClusterConfig: Equatable, Sendable {
    /// One tracker of the cluster.
    public struct Tracker: Equatable, Sendable {
        /// The tracker's node id, 1...65535 (a Raft `NodeID`).
        public var id: UInt64
        /// Where the tracker listens for both peer trackers and clients.
        public var address: PeerAddress
        /// The pinned fingerprint of the tracker's TLS certificate; nil on a line without one
        /// (whether such a line is accepted is the shell's policy, see `isFullyPinned`).
        public var fingerprint: CertificateFingerprint?
        /// The tracker's role; `.voter` unless the line names another.
        public var role: Role

        /// Makes a tracker entry.
        public init(id: UInt64, address: PeerAddress, fingerprint: CertificateFingerprint? = nil, role: Role = .voter) {
            self.id = id
            self.address = address
            self.fingerprint = fingerprint
            self.role = role
        }
    }

    /// What a tracker does in the cluster, as its line's last word says.
    public enum Role: String, Equatable, Sendable, CaseIterable {
        /// A full member: votes and keeps the state machine (the default).
        case voter
        /// Votes and keeps the log but no state machine (the line says `witness`).
        case witness
    }

    /// The trackers, sorted by id.
    public private(set) var trackers: [Tracker]

    /// The ids of all trackers, ascending.
    public var ids: [UInt64] { trackers.map(\.id) }

    /// The address of tracker `id`, or nil when the cluster has no such tracker.
    public func address(of id: UInt64) -> PeerAddress? {
        trackers.first { $0.id == id }?.address
    }

    /// Whether every line carries a fingerprint (the shell refuses a file where this is false
    /// unless it runs with its explicit insecure flag).
    public var isFullyPinned: Bool { trackers.allSatisfy { $0.fingerprint != nil } }

    /// The pinned fingerprints, in tracker id order (lines without one are skipped).
    public var fingerprints: [CertificateFingerprint] { trackers.compactMap(\.fingerprint) }

    /// The same trackers with no fingerprint (for plaintext, `--insecure`, use).
    public var withoutFingerprints: ClusterConfig {
        ClusterConfig(trackers: trackers.map { ClusterConfig.Tracker(id: $0.id, address: $0.address, role: $0.role) })
    }

    /// The id of the tracker pinned to `fingerprint`, or nil when no line pins it.
    public func trackerID(pinnedTo fingerprint: CertificateFingerprint) -> UInt64? {
        trackers.first { $0.fingerprint == fingerprint }?.id
    }

    /// What a line without a fingerprint is told when fingerprints are required.
    public static let missingFingerprintReason =
        "no certificate fingerprint (expected '<id> <host>:<port> sha256:<hex>'; print it with tracker-node --print-fingerprint, or run with --insecure for plaintext)"

    /// Parses the text of a cluster.conf; `fileName` only labels error messages. With
    /// `requiringFingerprints`, a line without a fingerprint is refused, naming the line (the
    /// first such line, once every line parsed: a malformed line is reported first).
    public static func parse(text: String, fileName: String, requiringFingerprints: Bool = false) throws(ClusterConfigError) -> ClusterConfig {
        var trackers: [Tracker] = []
        var lineOfID: [UInt64: Int] = [:]
        var lineOfAddress: [PeerAddress: Int] = [:]
        var lineOfFingerprint: [CertificateFingerprint: Int] = [:]
        var lineNumber = 0
        var firstUnpinnedLine: Int?
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let fail = { (reason: String) in ClusterConfigError(fileName: fileName, line: lineNumber, reason: reason) }
            guard let tracker = try parseLine(rawLine, fail: fail) else { continue }
            if tracker.fingerprint == nil, firstUnpinnedLine == nil { firstUnpinnedLine = lineNumber }
            if let first = lineOfID[tracker.id] { throw fail("duplicate id \(tracker.id) (first on line \(first))") }
            if let first = lineOfAddress[tracker.address] {
                throw fail("duplicate address \(tracker.address) (first on line \(first))")
            }
            if let fingerprint = tracker.fingerprint, let first = lineOfFingerprint[fingerprint] {
                throw fail("duplicate fingerprint \(fingerprint) (first on line \(first))")
            }
            guard trackers.count < NetworkingLimits.clusterTrackersMax else {
                throw fail("more than \(NetworkingLimits.clusterTrackersMax) trackers")
            }
            lineOfID[tracker.id] = lineNumber
            lineOfAddress[tracker.address] = lineNumber
            if let fingerprint = tracker.fingerprint { lineOfFingerprint[fingerprint] = lineNumber }
            trackers.append(tracker)
        }
        guard !trackers.isEmpty else {
            throw ClusterConfigError(fileName: fileName, line: nil, reason: "no trackers listed")
        }
        if requiringFingerprints, let firstUnpinnedLine {
            throw ClusterConfigError(fileName: fileName, line: firstUnpinnedLine, reason: missingFingerprintReason)
        }
        return ClusterConfig(trackers: trackers.sorted { $0.id < $1.id })
    }

    /// The form of a line, for error messages.
    static let lineForm = "'<id> <host>:<port> [sha256:<hex>] [role]'"

    /// Parses one line: nil for a blank or comment-only line.
    private static func parseLine(
        _ rawLine: Substring, fail: (String) -> ClusterConfigError
    ) throws(ClusterConfigError) -> Tracker? {
        let content = rawLine.prefix { $0 != "#" }
        let fields = content.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
        if fields.isEmpty { return nil }
        guard fields.count >= 2, fields.count <= 4 else {
            throw fail("expected \(lineForm), found \(fields.count) field\(fields.count == 1 ? "" : "s")")
        }
        let idText = fields[0]
        guard idText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), idText.utf8.count <= 5, let id = Int(idText) else {
            throw fail("bad id '\(idText)'")
        }
        guard id >= 1, id <= 65_535 else { throw fail("id \(id) out of range 1...65535") }
        let address: PeerAddress
        do {
            address = try PeerAddress.parse(String(fields[1]))
        } catch {
            throw fail(error.description)
        }
        var tracker = Tracker(id: UInt64(id), address: address)
        var rest = fields.dropFirst(2)
        if let word = rest.first, word.hasPrefix("sha") {
            do {
                tracker.fingerprint = try CertificateFingerprint.parse(word)
            } catch {
                throw fail("bad fingerprint '\(word)': \(error.reason)")
            }
            rest = rest.dropFirst()
        }
        if let word = rest.first {
            guard let role = Role(rawValue: String(word)) else {
                let roles = Role.allCases.map(\.rawValue).joined(separator: ", ")
                throw fail("unknown role '\(word)' (expected one of \(roles)\(tracker.fingerprint == nil ? ", or a sha256: fingerprint" : ""))")
            }
            tracker.role = role
            rest = rest.dropFirst()
        }
        if let word = rest.first { throw fail("unexpected '\(word)' after the role (expected \(lineForm))") }
        return tracker
    }

    /// Reads and parses the file at `path`; errors name the file (and line, when there is one).
    public static func load(path: String, requiringFingerprints: Bool = false) throws(ClusterConfigError) -> ClusterConfig {
        let bytes: [UInt8]
        do {
            bytes = try readFile(path: path, maxBytes: NetworkingLimits.clusterConfBytesMax)
        } catch {
            throw ClusterConfigError(fileName: path, line: nil, reason: error.reason)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ClusterConfigError(fileName: path, line: nil, reason: "not valid UTF-8")
        }
        return try parse(text: text, fileName: path, requiringFingerprints: requiringFingerprints)
    }
}

/// Why a cluster.conf was refused: `file:line: reason`, or `file: reason` for whole-file problems.
public struct ClusterConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file name as given to `parse` or `load`.
    public var fileName: String
    /// The 1-based line number, or nil when the problem is not on one line.
    public var line: Int?
    /// What is wrong, e.g. "duplicate id 2 (first on line 2)".
    public var reason: String

    /// Makes an error.
    public init(fileName: String, line: Int?, reason: String) {
        self.fileName = fileName
        self.line = line
        self.reason = reason
    }

    /// `cluster.conf:3: duplicate id 2 (first on line 2)`.
    public var description: String {
        if let line { return "\(fileName):\(line): \(reason)" }
        return "\(fileName): \(reason)"
    }
}

/// A file that could not be read; `reason` carries the errno text.
struct FileReadError: Error {
    var reason: String
}

/// Reads a whole (small) file with POSIX calls, refusing files above `maxBytes`.
func readFile(path: String, maxBytes: Int) throws(FileReadError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FileReadError(reason: "cannot open: \(errnoText(errno))") }
    defer { _ = close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    var interrupts = 0
    while bytes.count <= maxBytes {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count == 0 { return bytes }
        if count < 0 {
            let code = errno
            interrupts += 1
            if code == EINTR, interrupts < NetworkingLimits.interruptRetriesMax { continue }
            throw FileReadError(reason: "cannot read: \(errnoText(code))")
        }
        bytes.append(contentsOf: chunk[0..<count])
    }
    throw FileReadError(reason: "larger than \(maxBytes) bytes")
}
