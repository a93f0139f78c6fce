import Foundation
import Glibc
import Hashing
@testable import Networking
import Testing

@Suite("TLS identities on disk")
struct TLSIdentityTests {
    private func mode(_ path: String) throws -> mode_t {
        var info = stat()
        try #require(lstat(path, &info) == 0)
        return info.st_mode & 0o777
    }

    @Test("first start makes a 0700 directory, a 0600 key and a certificate; the fingerprint is SHA-256 of the DER")
    func createsIdentity() throws {
        let root = makeTemporaryPath("identity")
        defer { removeTree(root) }
        try #require(mkdir(root, 0o755) == 0)
        let directory = root + "/tracker-1"
        let identity = try TLSIdentity.loadOrCreate(directory: directory, commonName: "tracker-1")
        #expect(try mode(directory) == 0o700)
        #expect(try mode(directory + "/tls-key.pem") == 0o600)
        #expect(try mode(directory + "/tls-cert.pem") == 0o600)
        #expect(!FileManager.default.fileExists(atPath: directory + "/tls-key.pem.new"))
        #expect(identity.fingerprint.digest == SHA256.hash(identity.certificateDER))
        #expect(identity.fingerprint.description.hasPrefix("sha256:") && identity.fingerprint.description.count == 71)
        let keyText = try String(contentsOfFile: directory + "/tls-key.pem", encoding: .utf8)
        #expect(keyText.hasPrefix("-----BEGIN PRIVATE KEY-----"))
    }

    @Test("loading again, by either call, gives the same fingerprint; a new directory gives another")
    func fingerprintIsStable() throws {
        let directory = makeTemporaryPath("identity")
        let other = makeTemporaryPath("identity")
        defer { removeTree(directory); removeTree(other) }
        let first = try TLSIdentity.loadOrCreate(directory: directory, commonName: "tracker-1")
        let second = try TLSIdentity.loadOrCreate(directory: directory, commonName: "ignored-on-load")
        let third = try TLSIdentity.load(directory: directory)
        #expect(second.fingerprint == first.fingerprint && third.fingerprint == first.fingerprint)
        #expect(third.certificateDER == first.certificateDER)
        #expect(try TLSIdentity.loadOrCreate(directory: other, commonName: "tracker-1").fingerprint != first.fingerprint)
    }

    @Test("openssl's own tools agree on the fingerprint, the subject and the key type")
    func opensslAgrees() throws {
        let directory = makeTemporaryPath("identity")
        defer { removeTree(directory) }
        let identity = try TLSIdentity.loadOrCreate(directory: directory, commonName: "client-alice")
        let fingerprintLine = try runOpenSSL(["x509", "-in", directory + "/tls-cert.pem", "-noout", "-fingerprint", "-sha256"])
        let hex = fingerprintLine.split(separator: "=").last.map { $0.replacingOccurrences(of: ":", with: "").lowercased() }
        #expect(hex?.trimmingCharacters(in: .whitespacesAndNewlines) == Hex.encode(identity.fingerprint.digest))
        let subject = try runOpenSSL(["x509", "-in", directory + "/tls-cert.pem", "-noout", "-subject"])
        #expect(subject.contains("CN = client-alice") || subject.contains("CN=client-alice"))
        let key = try runOpenSSL(["pkey", "-in", directory + "/tls-key.pem", "-noout", "-text"])
        #expect(key.contains("ED25519"))
    }

    private func runOpenSSL(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = Pipe()
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)
        return String(decoding: data, as: UTF8.self)
    }

    @Test("a key file group or others may read is refused with a message naming the file")
    func refusesOpenKey() throws {
        let directory = makeTemporaryPath("identity")
        defer { removeTree(directory) }
        _ = try TLSIdentity.loadOrCreate(directory: directory, commonName: "tracker-1")
        let keyPath = directory + "/tls-key.pem"
        for badMode: mode_t in [0o640, 0o604, 0o660] {
            try #require(chmod(keyPath, badMode) == 0)
            let text = String(badMode, radix: 8)
            let expected = TLSIdentityError(reason: "\(keyPath): readable by group or others (mode 0\(text)); run chmod 600 on it")
            #expect(throws: expected) { _ = try TLSIdentity.load(directory: directory) }
            #expect(throws: expected) { _ = try TLSIdentity.loadOrCreate(directory: directory, commonName: "tracker-1") }
        }
        try #require(chmod(keyPath, 0o400) == 0)
        _ = try TLSIdentity.load(directory: directory)
    }

    @Test("a symlinked key, a group-writable directory and a directory that is a file are refused")
    func refusesUnsafePaths() throws {
        let directory = makeTemporaryPath("identity")
        let elsewhere = makeTemporaryPath("identity")
        defer { removeTree(directory); removeTree(elsewhere) }
        _ = try TLSIdentity.loadOrCreate(directory: elsewhere, commonName: "x")
        try #require(mkdir(directory, 0o700) == 0)
        try #require(symlink(elsewhere + "/tls-key.pem", directory + "/tls-key.pem") == 0)
        #expect(throws: TLSIdentityError(reason: "\(directory)/tls-key.pem: is a symbolic link")) {
            _ = try TLSIdentity.loadOrCreate(directory: directory, commonName: "x")
        }
        try #require(unlink(directory + "/tls-key.pem") == 0)
        try #require(chmod(directory, 0o770) == 0)
        #expect(throws: TLSIdentityError(reason: "\(directory): writable by group or others (mode 0770); run chmod 700 on it")) {
            _ = try TLSIdentity.loadOrCreate(directory: directory, commonName: "x")
        }
        #expect(throws: TLSIdentityError(reason: "\(elsewhere)/tls-key.pem: not a directory")) {
            _ = try TLSIdentity.loadOrCreate(directory: elsewhere + "/tls-key.pem", commonName: "x")
        }
    }

    @Test("a key without its certificate gets one; a certificate without its key, or of another key, is refused")
    func repairsOrRefusesPartialIdentity() throws {
        let directory = makeTemporaryPath("identity")
        let other = makeTemporaryPath("identity")
        defer { removeTree(directory); removeTree(other) }
        let first = try TLSIdentity.loadOrCreate(directory: directory, commonName: "t")
        try #require(unlink(directory + "/tls-cert.pem") == 0)
        let repaired = try TLSIdentity.loadOrCreate(directory: directory, commonName: "t")
        #expect(try TLSIdentity.load(directory: directory).fingerprint == repaired.fingerprint)
        #expect(try repaired.privateKeyPEM() == (try first.privateKeyPEM()))

        _ = try TLSIdentity.loadOrCreate(directory: other, commonName: "t")
        try #require(unlink(directory + "/tls-cert.pem") == 0)
        try #require(link(other + "/tls-cert.pem", directory + "/tls-cert.pem") == 0)
        #expect(throws: TLSIdentityError(reason: "\(directory)/tls-cert.pem: not the certificate of tls-key.pem")) {
            _ = try TLSIdentity.load(directory: directory)
        }
        try #require(unlink(directory + "/tls-key.pem") == 0)
        #expect(throws: TLSIdentityError(
            reason: "\(directory)/tls-cert.pem: exists without tls-key.pem; remove it to make a new identity")) {
            _ = try TLSIdentity.loadOrCreate(directory: directory, commonName: "t")
        }
    }

    @Test("garbage, truncated, empty and oversized key files are errors, not traps")
    func refusesCorruptKey() throws {
        let directory = makeTemporaryPath("identity")
        defer { removeTree(directory) }
        let identity = try TLSIdentity.loadOrCreate(directory: directory, commonName: "t")
        let keyPath = directory + "/tls-key.pem"
        let pem = try identity.privateKeyPEM()
        let bodies: [[UInt8]] = [[], Array("garbage".utf8), Array(pem.prefix(pem.count / 2)),
                                  pem.map { $0 == UInt8(ascii: "A") ? UInt8(ascii: "B") : $0 }]
        for body in bodies {
            try #require(unlink(keyPath) == 0)
            try #require(FileManager.default.createFile(atPath: keyPath, contents: Data(body), attributes: [.posixPermissions: 0o600]))
            #expect { _ = try TLSIdentity.load(directory: directory) } throws: { error in
                (error as? TLSIdentityError)?.reason.hasPrefix("\(keyPath): not a PEM private key") == true
                    || (error as? TLSIdentityError)?.reason == "\(keyPath): not the certificate of tls-key.pem"
                    || (error as? TLSIdentityError)?.reason == "\(directory)/tls-cert.pem: not the certificate of tls-key.pem"
            }
        }
        let huge = [UInt8](repeating: 0x41, count: TLSLimits.identityFileBytesMax + 1)
        try #require(unlink(keyPath) == 0)
        try #require(FileManager.default.createFile(atPath: keyPath, contents: Data(huge), attributes: [.posixPermissions: 0o600]))
        #expect(throws: TLSIdentityError(reason: "\(keyPath): larger than \(TLSLimits.identityFileBytesMax) bytes")) {
            _ = try TLSIdentity.load(directory: directory)
        }
    }

    @Test("files are never overwritten: an existing name is left alone, a stale temporary file is replaced")
    func neverOverwrites() throws {
        let directory = makeTemporaryPath("identity")
        defer { removeTree(directory) }
        try ensurePrivateDirectory(directory)
        let path = directory + "/tls-key.pem"
        #expect(try createFile(path, bytes: Array("first".utf8), directory: directory))
        #expect(try createFile(path, bytes: Array("second".utf8), directory: directory) == false)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "first")
        try #require(FileManager.default.createFile(atPath: directory + "/tls-cert.pem.new", contents: Data("stale".utf8)))
        #expect(try createFile(directory + "/tls-cert.pem", bytes: Array("cert".utf8), directory: directory))
        #expect(try String(contentsOfFile: directory + "/tls-cert.pem", encoding: .utf8) == "cert")
        #expect(try mode(directory + "/tls-cert.pem") == 0o600)
    }

    @Test("common names must be 1...64 printable ASCII characters")
    func validatesCommonName() throws {
        for bad in ["", String(repeating: "a", count: 65), "tab\there", "é"] {
            #expect(throws: TLSIdentityError.self) { _ = try TLSIdentity.makeEphemeral(commonName: bad) }
        }
        _ = try TLSIdentity.makeEphemeral(commonName: String(repeating: "a", count: 64))
    }
}
