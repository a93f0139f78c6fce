import Foundation
import Networking

/// A fresh, empty temporary directory path (not created) for identity tests.
func makeTemporaryPath(_ label: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)").path
}

/// Removes a temporary directory tree, ignoring errors.
func removeTree(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

/// A fingerprint no certificate has (all 0xAB).
let unknownFingerprint = CertificateFingerprint(digest: [UInt8](repeating: 0xAB, count: 32))!

/// Deterministic bytes of `count` length that differ with `seed`.
func patternBytes(count: Int, seed: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 131) ^ ($0 >> 8) &+ seed) }
}

/// Whether `marker` occurs anywhere in `haystack`.
func contains(_ haystack: [UInt8], marker: [UInt8]) -> Bool {
    guard !marker.isEmpty, haystack.count >= marker.count else { return marker.isEmpty }
    let first = marker[0]
    var index = 0
    while index <= haystack.count - marker.count {
        if haystack[index] == first, haystack[index..<(index + marker.count)].elementsEqual(marker) { return true }
        index += 1
    }
    return false
}

/// Moves every waiting ciphertext byte from `source` into `target` (as far as it takes them);
/// returns how many moved.
@discardableResult
func moveCiphertext(from source: TLSSession, to target: TLSSession) throws -> Int {
    var bytes = source.takeCiphertext()
    let total = bytes.count
    while !bytes.isEmpty {
        let taken = try target.feed(bytes[...])
        guard taken > 0 else { break }
        bytes.removeFirst(taken)
    }
    return total - bytes.count
}

/// Runs both handshakes in memory until neither is in progress or nothing moves any more.
func pumpHandshake(client: TLSSession, server: TLSSession) throws -> (client: TLSHandshakeState, server: TLSHandshakeState) {
    for _ in 0..<64 {
        let clientState = client.advanceHandshake()
        let sentByClient = try moveCiphertext(from: client, to: server)
        let serverState = server.advanceHandshake()
        let sentByServer = try moveCiphertext(from: server, to: client)
        if sentByClient == 0, sentByServer == 0, !isInProgress(clientState) || !isInProgress(serverState) {
            return (client.advanceHandshake(), server.advanceHandshake())
        }
    }
    return (client.handshakeState, server.handshakeState)
}

func isInProgress(_ state: TLSHandshakeState) -> Bool {
    if case .inProgress = state { return true }
    return false
}

/// Sends `data` from `sender` to `receiver` in memory and returns what `receiver` decrypted.
func transfer(_ data: [UInt8], from sender: TLSSession, to receiver: TLSSession) throws -> [UInt8] {
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 40_000)
    var offset = 0
    // Each pass writes, moves or reads something; the bound only guards against a hang.
    for _ in 0..<(data.count / 1024 + 64) {
        if offset < data.count {
            offset += try data.withUnsafeBytes { try sender.write(plaintext: UnsafeRawBufferPointer(rebasing: $0[offset...])) }
        }
        try moveCiphertext(from: sender, to: receiver)
        while case .bytes(let count) = try buffer.withUnsafeMutableBytes({ try receiver.read(into: $0) }) {
            received += buffer[0..<count]
        }
        if offset == data.count, received.count >= data.count { break }
    }
    return received
}

/// An ephemeral identity, failing the test on error.
func makeIdentity(_ name: String) throws -> TLSIdentity {
    try TLSIdentity.makeEphemeral(commonName: name)
}

/// A client and a server session between two fresh identities, by the given policies.
func makeSessionPair(
    clientIdentity: TLSIdentity?, serverIdentity: TLSIdentity,
    clientVerifies: PeerVerification, serverVerifies: PeerVerification
) throws -> (client: TLSSession, server: TLSSession) {
    let client = try TLSSession(context: TLSContext(side: .client, identity: clientIdentity), verification: clientVerifies)
    let server = try TLSSession(context: TLSContext(side: .server, identity: serverIdentity), verification: serverVerifies)
    return (client, server)
}
