import Foundation
import Testing
@testable import TrackerNode

@Suite("data directory identity")
struct DataIdentityTests {
    static func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("identity-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("made once on first use (nonzero), then read back the same; another id's directory is refused")
    func madeOnceAndKept() throws {
        let path = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (first, isNew) = try DataIdentity.loadOrCreate(directory: path, trackerID: 2)
        #expect(isNew && first.trackerID == 2 && first.incarnation != 0)
        let (again, isNewAgain) = try DataIdentity.loadOrCreate(directory: path, trackerID: 2)
        #expect(!isNewAgain && again == first)
        #expect(throws: IdentityError.self) { try DataIdentity.loadOrCreate(directory: path, trackerID: 3) }
        let other = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: other) }
        #expect(try DataIdentity.loadOrCreate(directory: other, trackerID: 2).identity.incarnation != first.incarnation, "a new directory is a new incarnation")
    }

    @Test("the text round-trips; anything else, truncated or edited, does not parse")
    func parseIsStrict() throws {
        let identity = DataIdentity(trackerID: 7, incarnation: 0xAB)
        #expect(DataIdentity.parse(identity.text) == identity)
        let text = identity.text
        for cut in 0..<text.count { #expect(DataIdentity.parse(String(text.prefix(cut))) == nil) }
        for bad in [text.replacingOccurrences(of: "id 7", with: "id 0"), text.replacingOccurrences(of: "00000000000000ab", with: "0000000000000000"),
                    text.replacingOccurrences(of: "tracker-identity 1", with: "tracker-identity 2"), text + "x\n",
                    text.replacingOccurrences(of: "ab\n", with: "zz\n"), "\u{0}"] {
            #expect(DataIdentity.parse(bad) == nil, "\(bad)")
        }
    }

    @Test("a corrupt identity file stops the start with a message naming it")
    func corruptFileRefused() throws {
        let path = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "garbage\n".write(toFile: path + "/identity", atomically: true, encoding: .utf8)
        #expect { try DataIdentity.loadOrCreate(directory: path, trackerID: 1) } throws: { error in
            "\(error)".contains(path + "/identity")
        }
    }
}
