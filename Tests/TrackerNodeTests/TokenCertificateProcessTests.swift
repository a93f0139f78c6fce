import Foundation
import ProcessHarness
import Testing
import TrackerClient

@Suite("session tokens bound to certificates (processes)", .serialized)
struct TokenCertificateProcessTests {
    @Test("over TLS a token used by a client with another certificate is refused and logged without the token; its own client goes on")
    func stolenTokenRefused() throws {
        let cluster = try TrackerCluster()
        defer { cluster.stop() }
        try cluster.startAll()
        let owner = try cluster.client()
        let leader = try #require(try cluster.waitForLeader(using: owner)?.id)
        let token = try session(owner, user: "victim")
        let thief = try TrackerClient(cluster: try cluster.config()) // its own ephemeral certificate
        #expect(thief.certificateFingerprint != owner.certificateFingerprint)
        let stolen = try createGroup(thief, token, "taken")
        guard case .rejected = stolen else { return #expect(Bool(false), "stolen token answered \(stolen)") }
        #expect(try createGroup(owner, token, "mine") == .result(.ok(.done)))
        #expect(try groupIDs(owner, token) == ["mine"])
        let log = cluster.log(leader)
        #expect(log.contains("session token used with another certificate"))
        let hex = token.map { String(format: "%02x", $0) }.joined()
        #expect(!log.lowercased().contains(hex), "the token is never logged")
    }
}
