import Foundation
import Hashing
import Networking
import TrackerStateMachine

/// Session tokens are stored as their SHA-256 only.
enum TokenHashing {
    static func hash(_ token: [UInt8]) -> TokenHash { TokenHash(SHA256.hash(token)) }
}

/// The handshake's cryptography from libcrypto.
func libcryptoAuthenticator() -> HandshakeAuthenticator { .libcrypto }

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
