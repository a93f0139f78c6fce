import Foundation
import Testing

/// One sharer and four downloaders as real processes on 127.0.0.1.
@Suite("swarm end to end", .serialized)
struct SwarmProcessTests {
    static let fileBytes = 32 << 20

    /// A sharer (with `sharerArguments`) and four downloaders in group g; the sharer uploads a
    /// random file; every downloader starts at once. Returns the source path and the clients.
    static func swarm(_ f: Fixture, sharerArguments: [String]) throws -> (String, ClientProcess, [ClientProcess]) {
        let source = try makeRandomFile(in: f.files, name: "s.bin", byteCount: fileBytes)
        let sharer = try f.client("sharer", user: "sharer", extraArguments: sharerArguments)
        let names = ["d1", "d2", "d3", "d4"]
        let downloaders = try names.map { try f.client($0, user: $0) }
        try f.makeGroup("g", owner: sharer, members: Array(zip(downloaders, names)))
        #expect(sharer.ok("upload_file \(source) g"))
        for (client, name) in zip(downloaders, names) {
            #expect(client.ok("download_file g s.bin \(try f.folder(name))"))
        }
        for client in downloaders {
            let finished = client.waitForDownload("s.bin", timeoutMillis: 120_000)
            #expect(finished["state"] as? String == "complete", "\(finished)")
        }
        for name in names { #expect(sha1Hex(ofFileAt: f.files + "/\(name)/s.bin") == sha1Hex(ofFileAt: source)) }
        return (source, sharer, downloaders)
    }

    static func servedBytes(_ client: ClientProcess) -> Int {
        client.run("show_downloads")["served_bytes"] as? Int ?? -1
    }

    @Test("one slow sharer to four downloaders at once: every copy verifies, the downloaders serve each other, the sharer uploads the file about once")
    func oneToFour() throws {
        let f = try Fixture()
        defer { f.stop() }
        // Each piece send takes 15 ms at the sharer: its uplink is the bottleneck, as on a real link.
        let (_, sharer, downloaders) = try Self.swarm(f, sharerArguments: ["--test-serve-delay-ms", "15"])
        let uploaded = Self.servedBytes(sharer)
        let forwarded = downloaders.map(Self.servedBytes).reduce(0, +)
        #expect(uploaded >= Self.fileBytes, "every piece left the sharer at least once: \(uploaded)")
        #expect(Double(uploaded) <= 1.3 * Double(Self.fileBytes), "the sharer uploaded \(uploaded) bytes for a \(Self.fileBytes)-byte file")
        #expect(forwarded >= 2 * Self.fileBytes, "the downloaders served each other \(forwarded) bytes")
    }

    @Test("a file whose piece hashes the tracker does not hold downloads to four peers, each fetching and checking the list")
    func detachedPieceList() throws {
        let f = try Fixture()
        defer { f.stop() }
        let (_, _, downloaders) = try Self.swarm(f, sharerArguments: ["--test-detached-piece-list"])
        for client in downloaders { #expect(client.log.contains("piece list fetched"), "\(client.log)") }
    }
}
