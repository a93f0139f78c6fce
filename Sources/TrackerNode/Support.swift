import Dispatch
import Foundation
import Hashing
import Networking
import TrackerStateMachine

/// Session tokens are stored as their SHA-256 only.
enum TokenHashing {
    static func hash(_ token: [UInt8]) -> TokenHash { TokenHash(SHA256.hash(token)) }
}

/// The handshake's cryptography from libcrypto.
func libcryptoAuthenticator() -> HandshakeAuthenticator {
    HandshakeAuthenticator(
        mac: { key, message in HMACSHA256.authenticate(key: key, message: message) },
        randomBytes: { count in
            guard let bytes = try? SecureRandom.bytes(count: count) else { fatalError("no secure random bytes") }
            return bytes
        },
        isEqual: { ConstantTime.isEqual($0, $1) })
}

/// Where the cluster key lives: `cluster.key` in cluster.conf's directory.
func clusterKeyPath(confPath: String) -> String {
    let directory = (confPath as NSString).deletingLastPathComponent
    return (directory.isEmpty ? "." : directory) + "/cluster.key"
}

/// Largest cluster.key file read (a key is 32 to a few hundred hex digits).
let clusterKeyFileBytesMax = 4_096

/// The optional cluster key: hex (at least 32 hex digits, i.e. 128 bits), readable by its owner
/// only; nil without the file. Trackers authenticate each other by their pinned TLS
/// certificates; a cluster key, when present, is proved inside the connection as well (and is
/// the only check between trackers run with `--insecure`). A file that is unusable, or readable
/// by group or others, stops the tracker with a message naming it.
func loadClusterKey(confPath: String) -> [UInt8]? {
    let path = clusterKeyPath(confPath: confPath)
    let make = "(umask 077; openssl rand -hex 32 > \(path)), the same file on every tracker"
    var info = stat()
    guard stat(path, &info) == 0 else {
        if errno == ENOENT { return nil }
        fail("\(path): \(String(cString: strerror(errno)))")
    }
    guard info.st_mode & S_IFMT == S_IFREG else { fail("\(path): not a regular file") }
    guard info.st_mode & 0o077 == 0 else {
        fail("\(path): readable by group or others (mode \(String(info.st_mode & 0o777, radix: 8))); run: chmod 600 \(path)")
    }
    guard let handle = FileHandle(forReadingAtPath: path), let data = try? handle.read(upToCount: clusterKeyFileBytesMax) else {
        fail("\(path): unreadable")
    }
    try? handle.close()
    let trimmed = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    guard data.count < clusterKeyFileBytesMax, let key = Hex.decode(trimmed), key.count >= 16 else {
        fail("\(path): expected at least 32 hex digits; make one with: \(make)")
    }
    return key
}

/// Creates the data directory (and its parents) readable by this user only, or tightens an
/// existing one that group or others could read: it holds password hashes and session hashes.
func prepareDataDirectory(_ path: String) {
    var info = stat()
    if stat(path, &info) != 0 {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            fail("cannot create data directory \(path): \(error)")
        }
        return
    }
    guard info.st_mode & 0o077 != 0 else { return }
    guard chmod(path, 0o700) == 0 else { fail("\(path): cannot make it private (chmod 700): \(String(cString: strerror(errno)))") }
    Log.warn("data directory was readable by group or others; it is now 0700", ["data": path,
                                                                                 "mode.before": String(info.st_mode & 0o777, radix: 8)])
}

/// SIGINT, SIGTERM and a `quit` line on standard input all ask the event loop to shut down.
/// End of input does not: a tracker started in the background keeps running.
final class ShutdownSignals {
    private let inputs: BlockingQueue<Input>
    private let sources: [any DispatchSourceSignal]

    init(inputs: BlockingQueue<Input>) {
        self.inputs = inputs
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { inputs.push(.shutdown(reason: number == SIGINT ? "SIGINT" : "SIGTERM")) }
            return source
        }
    }

    func start() {
        for source in sources { source.resume() }
        let thread = Thread { [inputs] in
            while let line = readLine() {
                if line.trimmingCharacters(in: .whitespaces) == "quit" {
                    inputs.push(.shutdown(reason: "quit"))
                    return
                }
            }
        }
        thread.name = "stdin"
        thread.start()
    }
}
