import Foundation
import Networking
import ProcessHarness
import Testing

/// Whether a process with id `pid` exists (a zombie counts as gone: it is reaped by its parent).
func isAlive(_ pid: Int32) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.split(separator: ")").last?.split(separator: " ").first
    return state != "Z"
}

@Suite("ProcessHarness", .serialized)
struct ProcessHarnessTests {
    @Test("a cluster elects a leader; stop() kills every tracker and removes its folder")
    func clusterStops() throws {
        let cluster = try TrackerCluster()
        try cluster.startAll()
        let leader = try #require(try cluster.waitForLeader())
        #expect(cluster.ids.contains(leader.id) && leader.role == .leader)
        let pids = cluster.ids.compactMap { cluster.pid($0) }
        #expect(pids.count == 3 && pids.allSatisfy(isAlive))
        cluster.stop()
        #expect(!pids.contains(where: isAlive), "a tracker outlived stop()")
        #expect(!FileManager.default.fileExists(atPath: cluster.directory))
    }

    @Test("Children.killAll kills every recorded child and removes every recorded folder")
    func killAll() throws {
        let registry = Children() // not `shared`: other suites' children run in this process too
        let folder = try makeTemporaryDirectory(prefix: "harness-test", registry: registry)
        let child = try ChildProcess("/bin/sleep", ["60"], logPath: folder + "/sleep.log", registry: registry)
        #expect(isAlive(child.pid))
        registry.killAll()
        #expect(child.wait(timeoutMillis: 5_000) != nil, "the child was killed")
        #expect(!FileManager.default.fileExists(atPath: folder))
    }

    @Test("a child started to die with its parent is killed when the process that started it dies")
    func diesWithParent() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"))
        let registry = Children()
        let folder = try makeTemporaryDirectory(prefix: "harness-test", registry: registry)
        defer { registry.killAll() }
        // A shell stands in for a test process: it starts sleep the way ChildProcess does, then is SIGKILLed.
        let pidFile = folder + "/pid"
        let parent = try ChildProcess("/bin/sh", ["-c", "/usr/bin/setpriv --pdeathsig KILL -- /bin/sleep 60 & echo $! > \(pidFile); wait"],
                                      logPath: folder + "/sh.log", registry: registry)
        var grandchild: Int32?
        for _ in 0..<200 where grandchild == nil {
            grandchild = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            usleep(10_000)
        }
        let pid = try #require(grandchild)
        #expect(isAlive(pid))
        parent.kill()
        var isGone = false
        for _ in 0..<200 where !isGone {
            isGone = !isAlive(pid)
            usleep(10_000)
        }
        #expect(isGone, "the grandchild outlived its parent")
        if !isGone { kill(pid, SIGKILL) }
    }

    @Test("free ports bind, temporary folders are private and distinct, runToExit reports status, output and a timeout")
    func helpers() throws {
        let port = try freePort()
        let socket = try Socket.listen(host: "127.0.0.1", port: port)
        socket.close()
        let registry = Children()
        let a = try makeTemporaryDirectory(prefix: "harness-test", registry: registry)
        let b = try makeTemporaryDirectory(prefix: "harness-test", registry: registry)
        defer { registry.killAll() }
        #expect(a != b)
        let mode = (try FileManager.default.attributesOfItem(atPath: a)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o700)
        let run = try runToExit("/bin/sh", ["-c", "echo out; echo err >&2; exit 3"])
        #expect(run.status == 3 && run.stdout == "out\n" && run.stderr == "err\n")
        let slow = try runToExit("/bin/sleep", ["30"], timeoutSeconds: 0.2)
        #expect(slow.status == -1)
    }
}
