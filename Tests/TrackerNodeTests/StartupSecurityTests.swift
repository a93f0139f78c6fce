import Foundation
import Testing

/// Runs tracker-node to its exit (killed after `timeoutSeconds`: a tracker that should have
/// refused to start but runs reports status -1); returns the status and what it printed.
func runTrackerNode(timeoutSeconds: Double = 10, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: ProcessCluster.binary)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardError = pipe
    process.standardOutput = pipe
    process.standardInput = Pipe()
    try process.run()
    let deadline = Date().addingTimeInterval(timeoutSeconds)
    while process.isRunning && Date() < deadline { usleep(10_000) }
    let wasKilled = process.isRunning
    if wasKilled { kill(process.processIdentifier, SIGKILL) }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (wasKilled ? -1 : process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// The permission bits of `path`.
func mode(of path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]) as? Int) ?? -1
}

@Suite("tracker-node start: authentication by default, private files", .serialized)
struct StartupSecurityTests {
    @Test("a cluster.conf line without a fingerprint is refused, naming the file and line; with --insecure it starts and warns once")
    func pinsRequiredUnlessInsecure() throws {
        let cluster = try ProcessCluster(size: 1, clusterKey: nil, isPinned: false)
        defer { cluster.stop() }
        let refused = try runTrackerNode(timeoutSeconds: 3, ["--conf", cluster.confPath, "--id", "1", "--data-dir", cluster.dataDirectory(1)])
        #expect(refused.status == 1)
        #expect(refused.output.contains(cluster.confPath + ":1: no certificate fingerprint") && refused.output.contains("--insecure"),
                "\(refused.output)")
        #expect(!FileManager.default.fileExists(atPath: cluster.dataDirectory(1)), "nothing is created before cluster.conf is checked")
        let insecure = try ProcessCluster(size: 1, extraArguments: ["--insecure"], clusterKey: nil)
        defer { insecure.stop() }
        try insecure.startAll()
        let client = try insecure.client()
        _ = try #require(try insecure.waitForLeader(using: client))
        #expect(try client.call(.createUser(userID: "insecure", password: "pw")) == .result(.ok(.done)))
        let warnings = insecure.log(1).split(separator: "\n").filter { $0.contains("WARN INSECURE MODE") }
        #expect(warnings.count == 1, "\(insecure.log(1))")
    }

    @Test("a cluster key readable by group or others, or too short, is refused with a message naming it")
    func badKeysRefused() throws {
        let cluster = try ProcessCluster(size: 1, clusterKey: nil)
        defer { cluster.stop() }
        let arguments = ["--conf", cluster.confPath, "--id", "1", "--data-dir", cluster.dataDirectory(1)]
        let keyPath = cluster.directory + "/cluster.key"
        for loose in [0o644, 0o640, 0o604] {
            try ProcessCluster.writeKey(ProcessCluster.makeKeyHex(), beside: cluster.confPath, mode: loose)
            let outcome = try runTrackerNode(timeoutSeconds: 3, arguments)
            #expect(outcome.status == 1 && outcome.output.contains("\(keyPath): readable by group or others")
                    && outcome.output.contains("chmod 600"), "mode \(String(loose, radix: 8)): \(outcome.output)")
        }
        try ProcessCluster.writeKey("00112233", beside: cluster.confPath)
        let short = try runTrackerNode(timeoutSeconds: 3, arguments)
        #expect(short.status == 1 && short.output.contains("\(keyPath): expected at least 32 hex digits"), "\(short.output)")
        // Usage errors keep their statuses with or without a key.
        #expect(try runTrackerNode(["--help"]).status == 0)
        #expect(try runTrackerNode(["--insecure", "--bogus"]).status == 2)
    }

    @Test("the data directory is created 0700, what the tracker writes in it is private, and a loose one is tightened")
    func privateDataDirectory() throws {
        let cluster = try ProcessCluster(size: 1)
        defer { cluster.stop() }
        let data = cluster.dataDirectory(1)
        try cluster.startAll()
        let client = try cluster.client()
        _ = try #require(try cluster.waitForLeader(using: client))
        #expect(try client.call(.createUser(userID: "private", password: "pw")) == .result(.ok(.done)))
        #expect(mode(of: data) == 0o700)
        let files = try FileManager.default.subpathsOfDirectory(atPath: data)
        #expect(!files.isEmpty)
        for file in files { #expect(mode(of: data + "/" + file) & 0o077 == 0, "\(file) is \(String(mode(of: data + "/" + file), radix: 8))") }
        _ = cluster.terminate(1)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: data)
        try cluster.start(1)
        _ = try #require(try cluster.waitForLeader(using: client))
        #expect(mode(of: data) == 0o700)
        #expect(cluster.log(1).contains("data directory was readable by group or others"))
    }
}
