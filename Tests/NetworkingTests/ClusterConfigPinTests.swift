import Networking
import Testing

@Suite("cluster.conf fingerprints and roles")
struct ClusterConfigPinTests {
    static let hexA = String(repeating: "0123456789abcdef", count: 4)
    static let hexB = String(repeating: "fedcba9876543210", count: 4)

    @Test("sha256:<64 hex> parses in either case, prints lowercase, and round-trips")
    func parsesFingerprint() throws {
        let lower = try CertificateFingerprint.parse("sha256:" + Self.hexA)
        let upper = try CertificateFingerprint.parse("sha256:" + Self.hexA.uppercased())
        #expect(lower == upper)
        #expect(lower.description == "sha256:" + Self.hexA)
        #expect(lower.digest.count == 32 && lower.digest[0] == 0x01 && lower.digest[31] == 0xef)
        #expect(try CertificateFingerprint.parse(lower.description) == lower)
    }

    static let badFingerprints: [(String, String)] = [
        ("", "expected 'sha256:<64 hex digits>'"),
        ("SHA256:" + Self.hexA, "expected 'sha256:<64 hex digits>'"),
        ("sha1:" + Self.hexA, "expected 'sha256:<64 hex digits>'"),
        (Self.hexA, "expected 'sha256:<64 hex digits>'"),
        ("sha256:", "expected 64 hex digits after 'sha256:', found 0"),
        ("sha256:" + Self.hexA.dropLast(), "expected 64 hex digits after 'sha256:', found 63"),
        ("sha256:" + Self.hexA + "0", "expected 64 hex digits after 'sha256:', found 65"),
        ("sha256:" + Self.hexA.dropLast() + "g", "not a hex digit after 'sha256:'"),
        ("sha256:" + Self.hexA.dropLast(2) + "é", "not a hex digit after 'sha256:'"),
        ("sha256:" + Self.hexA.dropLast(1) + " ", "not a hex digit after 'sha256:'"),
    ]

    @Test("malformed fingerprints are refused with what is wrong", arguments: badFingerprints)
    func refusesFingerprint(text: String, reason: String) {
        #expect(throws: FingerprintError(reason: reason)) { _ = try CertificateFingerprint.parse(text) }
    }

    @Test("lines may carry a fingerprint and then a role; old lines parse with neither")
    func parsesPinnedLines() throws {
        let text = """
            1 10.1.0.11:7001 sha256:\(Self.hexA)
            2 10.1.0.12:7001 sha256:\(Self.hexB) witness  # a witness
            3 10.1.0.13:7001
            4 10.1.0.14:7001\tvoter
            """
        let config = try ClusterConfig.parse(text: text, fileName: "cluster.conf")
        let a = try CertificateFingerprint.parse("sha256:" + Self.hexA)
        let b = try CertificateFingerprint.parse("sha256:" + Self.hexB)
        #expect(config.trackers == [
            .init(id: 1, address: PeerAddress(host: "10.1.0.11", port: 7001), fingerprint: a, role: .voter),
            .init(id: 2, address: PeerAddress(host: "10.1.0.12", port: 7001), fingerprint: b, role: .witness),
            .init(id: 3, address: PeerAddress(host: "10.1.0.13", port: 7001), fingerprint: nil, role: .voter),
            .init(id: 4, address: PeerAddress(host: "10.1.0.14", port: 7001), fingerprint: nil, role: .voter),
        ])
        #expect(!config.isFullyPinned)
        #expect(config.fingerprints == [a, b])
        #expect(config.trackerID(pinnedTo: b) == 2)
        #expect(config.trackerID(pinnedTo: unknownFingerprint) == nil)
    }

    @Test("a file is fully pinned only when every line has a fingerprint")
    func fullyPinned() throws {
        let pinned = try ClusterConfig.parse(
            text: "1 127.0.0.1:7001 sha256:\(Self.hexA)\n2 127.0.0.1:7002 sha256:\(Self.hexB)\n", fileName: "c")
        #expect(pinned.isFullyPinned)
        let legacy = try ClusterConfig.parse(text: "1 127.0.0.1:7001\n", fileName: "c")
        #expect(!legacy.isFullyPinned && legacy.trackers[0].fingerprint == nil && legacy.fingerprints.isEmpty)
    }

    static let badWords: [(String, String)] = [
        ("1 127.0.0.1:7001 sha256:abc\n", "c:1: bad fingerprint 'sha256:abc': expected 64 hex digits after 'sha256:', found 3"),
        ("1 127.0.0.1:7001 sha256:\(Self.hexA.dropLast())x\n", "c:1: bad fingerprint 'sha256:\(Self.hexA.dropLast())x': not a hex digit after 'sha256:'"),
        ("1 127.0.0.1:7001 sha1:\(Self.hexA)\n", "c:1: bad fingerprint 'sha1:\(Self.hexA)': expected 'sha256:<64 hex digits>'"),
        ("\n1 127.0.0.1:7001 leader\n", "c:2: unknown role 'leader' (expected one of voter, witness, or a sha256: fingerprint)"),
        ("1 127.0.0.1:7001 sha256:\(Self.hexA) Witness\n", "c:1: unknown role 'Witness' (expected one of voter, witness)"),
        ("1 127.0.0.1:7001 witness sha256:\(Self.hexA)\n", "c:1: unexpected 'sha256:\(Self.hexA)' after the role (expected '<id> <host>:<port> [sha256:<hex>] [role]')"),
        ("1 127.0.0.1:7001 sha256:\(Self.hexA) witness x\n", "c:1: expected '<id> <host>:<port> [sha256:<hex>] [role]', found 5 fields"),
        ("1 127.0.0.1:7001 sha256:\(Self.hexA)\n2 127.0.0.1:7002 sha256:\(Self.hexA.uppercased())\n",
         "c:2: duplicate fingerprint sha256:\(Self.hexA) (first on line 1)"),
    ]

    @Test("bad fingerprint and role words are refused with file:line and what is wrong", arguments: badWords)
    func refusesBadWords(text: String, message: String) {
        #expect {
            _ = try ClusterConfig.parse(text: text, fileName: "c")
        } throws: { error in
            (error as? ClusterConfigError)?.description == message
        }
    }
}
