import Testing
import TrackerHosting

@Suite("Admin codec")
struct AdminCodecTests {
    static let requests: [AdminRequest] = [
        .list,
        .change(.addLearner(id: 4, address: "10.1.0.14:7001", incarnation: 0)),
        .change(.addWitness(id: 3, address: "h:3", incarnation: 77)),
        .change(.addLearner(id: 5, address: "h:5", fingerprint: [UInt8](repeating: 0xC3, count: 32))),
        .change(.promote(id: 4)), .change(.demote(id: 2)), .change(.remove(id: 1)),
        .change(.pin(id: 2, incarnation: 0xFFFF_FFFF_FFFF_FFFF)),
    ]

    @Test("every request round-trips")
    func roundTrip() throws {
        for request in Self.requests {
            #expect(try AdminCodec.decode(AdminCodec.encode(request)) == request)
        }
    }

    @Test("a request of format 1 (before fingerprints) still decodes, with no fingerprint")
    func formatOne() throws {
        var bytes = AdminCodec.encode(.change(.addLearner(id: 4, address: "h:4")))
        bytes[0] = 1
        bytes.removeLast(4) // the empty fingerprint blob's length
        #expect(try AdminCodec.decode(bytes) == .change(.addLearner(id: 4, address: "h:4")))
    }

    @Test("truncated, extended, unknown-version and unknown-kind bytes throw, and no byte string traps")
    func hostileBytes() {
        for request in Self.requests {
            let bytes = AdminCodec.encode(request)
            for cut in 0..<bytes.count { #expect(throws: (any Error).self) { try AdminCodec.decode(Array(bytes.prefix(cut))) } }
            #expect(throws: (any Error).self) { try AdminCodec.decode(bytes + [0]) }
            var version = bytes
            version[0] = 3
            #expect(throws: (any Error).self) { try AdminCodec.decode(version) }
            var kind = bytes
            kind[1] = 7
            #expect(throws: (any Error).self) { try AdminCodec.decode(kind) }
        }
        // A huge address length is refused without allocating it.
        let huge: [UInt8] = [1, 1] + [UInt8](repeating: 0, count: 16) + [0xFF, 0xFF, 0xFF, 0xFF]
        #expect(throws: (any Error).self) { try AdminCodec.decode(huge) }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<2_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let count = Int(state >> 59)
            let bytes = (0..<count).map { UInt8(truncatingIfNeeded: state >> UInt64(($0 % 8) * 8)) ^ UInt8(truncatingIfNeeded: $0) }
            _ = try? AdminCodec.decode([1] + bytes)
        }
    }
}
