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

/// The cluster key: the file `cluster.key` in cluster.conf's directory, hex (at least 32 hex
/// digits, i.e. 128 bits); nil when there is no such file. A present but unusable file stops
/// the tracker.
func loadClusterKey(confPath: String) -> [UInt8]? {
    let directory = (confPath as NSString).deletingLastPathComponent
    let path = (directory.isEmpty ? "." : directory) + "/cluster.key"
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { fail("\(path): unreadable") }
    let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
    guard let key = Hex.decode(trimmed), key.count >= 16 else {
        fail("\(path): expected at least 32 hex digits (make one with: openssl rand -hex 32 > \(path))")
    }
    return key
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
