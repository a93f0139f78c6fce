import ProcessHarness
import Foundation
import Networking
import Testing

@Suite("tracker-node member: command line", .serialized)
struct MemberCommandLineTests {
    @Test("--help exits 0 with the usage; a missing verb, an unknown flag or a missing --id exit 2; an unreachable cluster exits 1 with a reason")
    func usageAndFailures() throws {
        let cluster = try TrackerCluster(size: 1)
        defer { cluster.stop() }
        func run(_ words: [String]) throws -> (Int32, String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: TrackerCluster.builtBinary)
            process.arguments = words
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
        let help = try run(["member", "--help"])
        #expect(help.0 == 0 && help.1.contains("usage: tracker-node member list"))
        #expect(try run(["member"]).0 == 2)
        #expect(try run(["member", "list", "--conf", cluster.confPath, "--bogus"]).0 == 2)
        #expect(try run(["member", "remove", "--conf", cluster.confPath]).0 == 2)
        #expect(try run(["member", "add", "--conf", cluster.confPath, "--id", "4"]).0 == 2, "add needs --address")
        let down = try run(["member", "list", "--conf", cluster.confPath, "--timeout-ms", "300"])
        #expect(down.0 == 1 && down.1.contains("tracker-node member:") && down.1.split(separator: "\n").count == 1)
        let joinWithoutAddress = try run(["--conf", cluster.confPath, "--id", "4", "--join"])
        #expect(joinWithoutAddress.0 == 2)
    }

    @Test("without a cluster key the tool is let in by a current member's pinned certificate (--data-dir), not by another; add needs the new tracker's fingerprint")
    func adminByTrackerIdentity() throws {
        let cluster = try TrackerCluster(size: 3, clusterKey: nil)
        defer { cluster.stop() }
        try cluster.startAll()
        #expect(try cluster.waitForMembers { $0.count == 3 }, "a member's identity lists the configuration")
        let stranger = cluster.directory + "/stranger"
        _ = try TLSIdentity.loadOrCreate(directory: stranger, commonName: "stranger")
        let refused = try cluster.member(["list", "--data-dir", stranger], timeoutMillis: 1_500)
        #expect(refused.status == 1, "an unpinned certificate lists nothing: \(refused.output)")
        let noIdentity = try cluster.member(["list", "--insecure"], timeoutMillis: 1_500)
        #expect(noIdentity.status == 1, "plaintext is refused by a TLS cluster")
        let unpinnedAdd = try cluster.member(["add", "--id", "4", "--address", "127.0.0.1:1", "--fingerprint", "x"])
        #expect(unpinnedAdd.status == 2, "--fingerprint must be sha256:<hex>")
        #expect(cluster.log(1).contains("member tool refused"))
    }
}
