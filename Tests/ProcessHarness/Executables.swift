import Foundation
import Networking

/// An executable `swift build` put beside the running test bundle or benchmark (the products
/// are built together), or nil.
public func builtExecutable(_ name: String) -> String? {
    var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<4 {
        let path = folder.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
        folder = folder.deletingLastPathComponent()
    }
    return nil
}

/// The path of a built executable, or the name beside the bundle when it was not found (a
/// start then fails with a clear error).
public func executablePath(_ name: String) -> String {
    builtExecutable(name) ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name).path
}

/// A free TCP port on 127.0.0.1 (the kernel's choice for a socket bound to port 0).
public func freePort() throws -> UInt16 {
    let socket = try Socket.listen(host: "127.0.0.1", port: 0)
    defer { socket.close() }
    return try socket.localPort
}

/// A new private folder under `parent` (the system's temporary folder by default), named
/// `<prefix>-<random>`, mode 0700. Recorded in `registry` so a cleanup removes it.
public func makeTemporaryDirectory(prefix: String, parent: String = NSTemporaryDirectory(), registry: Children = .shared) throws -> String {
    var base = parent
    while base.count > 1 && base.hasSuffix("/") { base.removeLast() }
    var template = Array((base + "/" + prefix + "-XXXXXX").utf8CString)
    guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
        throw HarnessError("mkdtemp under \(parent) failed: \(String(cString: strerror(errno)))")
    }
    let path = String(cString: made)
    registry.add(directory: path)
    return path
}

/// A fresh random cluster key: 64 hex digits (256 bits).
public func makeClusterKeyHex() -> String {
    var generator = SystemRandomNumberGenerator()
    return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
}

/// Writes `hex` as `cluster.key` beside `confPath`, with `mode` (0600 unless a test wants a bad one).
public func writeClusterKey(_ hex: String, besideConf confPath: String, mode: Int = 0o600) throws {
    let path = (confPath as NSString).deletingLastPathComponent + "/cluster.key"
    try? FileManager.default.removeItem(atPath: path)
    guard FileManager.default.createFile(atPath: path, contents: Data((hex + "\n").utf8), attributes: [.posixPermissions: mode]) else {
        throw HarnessError("cannot write \(path)")
    }
}

/// Something the harness could not do.
public struct HarnessError: Error, CustomStringConvertible {
    /// What went wrong.
    public var description: String
    /// An error saying `description`.
    public init(_ description: String) { self.description = description }
}
