import BinaryCoding
import Testing
@testable import Consensus

/// The configuration encoding (in log entries and snapshots) and message format 2: canonical,
/// bounded, and hostile bytes refused with an error, never a trap.
@Suite("Configuration and message encodings")
struct ConfigurationCodecTests {
    static let sample = try! Configuration([
        Member(id: 7, role: .learner, incarnation: 0xFEED, address: "[::1]:7007"),
        Member(id: 1, role: .voter, incarnation: 1, address: "10.0.0.1:7001"),
        Member(id: 3, role: .witness, incarnation: UInt64.max, address: ""),
    ])

    /// The encoding of one member, as `Configuration.encoded()` writes it.
    static func member(id: UInt64, role: UInt8, address: [UInt8] = []) -> [UInt8] {
        var writer = ByteWriter()
        writer.write(id)
        writer.write(role)
        writer.write(UInt64(0))
        writer.write(UInt16(address.count))
        writer.writeRaw(address)
        return writer.bytes
    }

    @Test("a configuration round-trips, and its encoding does not depend on the order members were given in")
    func roundTrip() throws {
        let bytes = Self.sample.encoded()
        #expect(try Configuration(decoding: bytes) == Self.sample)
        #expect(Self.sample.ids == [1, 3, 7])
        let shuffled = try Configuration(Self.sample.members.reversed())
        #expect(shuffled.encoded() == bytes)
        let full = try Configuration((1...15).map {
            Member(id: $0, role: $0 == 1 ? .voter : .learner, address: String(repeating: "a", count: 255), fingerprint: [UInt8](repeating: 0xAB, count: 32))
        })
        #expect(full.encoded().count == Configuration.encodedBytesMax)
        #expect(try Configuration(decoding: full.encoded()) == full)
    }

    @Test("members' fingerprints round-trip in format 2; a configuration pinning none is written in format 1 as before; a bad fingerprint length is refused")
    func fingerprintFormats() throws {
        #expect(Self.sample.encoded().first == 1, "no member pinned: the old encoding")
        var members = Self.sample.members
        members[0].fingerprint = [UInt8](repeating: 0x5A, count: Configuration.fingerprintBytes)
        let pinned = try Configuration(members)
        let bytes = pinned.encoded()
        #expect(bytes.first == 2)
        let decoded = try Configuration(decoding: bytes)
        #expect(decoded == pinned && decoded.member(1)?.fingerprint == members[0].fingerprint && decoded.member(3)?.fingerprint == [])
        // A format-1 entry written before fingerprints (hand-built) still decodes.
        let old: [UInt8] = [1, 1] + Self.member(id: 2, role: 1, address: Array("h:2".utf8))
        #expect(try Configuration(decoding: old).member(2)?.fingerprint == [])
        members[0].fingerprint = [1, 2, 3]
        #expect(throws: ConfigError.self) { try Configuration(members) }
        var short = bytes
        let lengthAt = 2 + 8 + 1 + 8 + 2 + "10.0.0.1:7001".utf8.count
        #expect(short[lengthAt] == 32)
        short[lengthAt] = 5
        #expect(throws: DecodingError.self) { try Configuration(decoding: short) }
    }

    @Test("hostile configuration bytes are refused with a decoding error")
    func hostileBytes() {
        let good = Self.sample.encoded()
        for cut in 0..<good.count {
            #expect(throws: DecodingError.self) { _ = try Configuration(decoding: Array(good[..<cut])) }
        }
        let voter = Self.member(id: 1, role: 1)
        let hostile: [(String, [UInt8])] = [
            ("trailing byte", good + [0]),
            ("unknown version", [2, 1] + voter),
            ("unknown role 0", [1, 1] + Self.member(id: 1, role: 0)),
            ("unknown role 4", [1, 1] + Self.member(id: 1, role: 4)),
            ("id 0", [1, 1] + Self.member(id: 0, role: 1)),
            ("ids out of order", [1, 2] + Self.member(id: 2, role: 1) + voter),
            ("an id twice", [1, 2] + voter + voter),
            ("a space in an address", [1, 1] + Self.member(id: 1, role: 1, address: Array("a b".utf8))),
            ("a newline in an address", [1, 1] + Self.member(id: 1, role: 1, address: [0x61, 0x0A])),
            ("a byte above ASCII", [1, 1] + Self.member(id: 1, role: 1, address: [0xC3, 0xA9])),
            ("16 members", [1, 16] + (1...16).flatMap { Self.member(id: UInt64($0), role: 1) }),
            ("two witnesses", [1, 3] + voter + Self.member(id: 2, role: 3) + Self.member(id: 3, role: 3)),
            ("no full voter", [1, 2] + Self.member(id: 1, role: 2) + Self.member(id: 2, role: 3)),
            ("no member", [1, 0]),
        ]
        for (name, bytes) in hostile {
            #expect(throws: DecodingError.self, "\(name)") { _ = try Configuration(decoding: bytes) }
        }
        var longAddress = [1, 1] + Self.member(id: 1, role: 1)
        longAddress[19...20] = [0x01, 0x00] // claims 256 address bytes
        #expect(throws: DecodingError.self) { _ = try Configuration(decoding: longAddress + Array(repeating: 0x61, count: 256)) }
    }

    @Test("invalid configurations are refused when made, and the empty one only as a starting point")
    func madeChecked() {
        #expect(throws: ConfigError.self) { _ = try Configuration([Member(id: 1, role: .learner)]) }
        #expect(throws: ConfigError.self) { _ = try Configuration([Member(id: 1, role: .voter), Member(id: 1, role: .learner)]) }
        #expect(throws: ConfigError.self) { _ = try Configuration([Member(id: 1, role: .voter, address: "x\ty")]) }
        #expect(throws: ConfigError.self) { _ = try Configuration(voters: Array(NodeID(1)...16)) }
        #expect(throws: Never.self) { _ = try Configuration([]) }
        #expect(Configuration.empty.entryViolation != nil)
        #expect(throws: ConfigError.self) { try RaftConfig(id: 4, peers: [1, 2, 3]).validate() }
        #expect(throws: Never.self) { try RaftConfig(id: 4, initialConfiguration: .empty).validate() }
    }

    @Test("message format 2 carries the incarnation and a snapshot's configuration; format 1 is refused")
    func messageFormat() throws {
        let snapshot = Snapshot(meta: SnapshotMeta(index: 9, term: 4, configuration: Self.sample), data: [1, 2, 3])
        let messages = [
            Message(kind: .installSnapshot, from: 1, to: 2, term: 5, snapshot: snapshot, fromIncarnation: 77),
            Message(kind: .installSnapshot, from: 1, to: 2, term: 5, snapshot: Snapshot(meta: SnapshotMeta(index: 9, term: 4), data: [])),
            Message(kind: .witnessAppend, from: 1, to: 3, term: 5, logTerm: 5, index: 40, fromIncarnation: 1),
            Message(kind: .appendEntries, from: 1, to: 2, term: 5, logTerm: 4, index: 8,
                    entries: [Entry(term: 5, index: 9, kind: .configuration, data: Self.sample.encoded())], commit: 8),
        ]
        for m in messages {
            let bytes = RaftCodec.encode(m)
            #expect(bytes.first == RaftCodec.messageFormat)
            #expect(try RaftCodec.decodeMessage(bytes) == m)
            #expect(m.validationError() == nil)
        }
        var formatOne = RaftCodec.encode(messages[2])
        formatOne.removeFirst() // format 1 began with the kind
        #expect(throws: DecodingError.self) { _ = try RaftCodec.decodeMessage(formatOne) }
        var badConfiguration = RaftCodec.encode(messages[0])
        let position = badConfiguration.count - 3 - 4 - Self.sample.encoded().count // data, its length, then the configuration
        badConfiguration[position] = 9 // the configuration's version byte
        #expect(throws: DecodingError.self) { _ = try RaftCodec.decodeMessage(badConfiguration) }
        let empty = Message(kind: .installSnapshot, from: 1, to: 2, term: 5,
                            snapshot: Snapshot(meta: SnapshotMeta(index: 9, term: 4, configuration: .empty), data: []))
        #expect(empty.validationError() == .configurationInvalid)
        #expect(throws: DecodingError.self) { _ = try RaftCodec.decodeMessage(RaftCodec.encode(empty)) }
    }
}
