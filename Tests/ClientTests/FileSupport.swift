import Foundation
import Hashing

/// A file of `byteCount` random bytes in `directory`; returns its path.
func makeRandomFile(in directory: String, name: String, byteCount: Int) throws -> String {
    let path = directory + "/" + name
    var bytes = [UInt8](repeating: 0, count: byteCount)
    var generator = SystemRandomNumberGenerator()
    bytes.withUnsafeMutableBytes { raw in
        let words = raw.bindMemory(to: UInt64.self)
        for i in words.indices { words[i] = generator.next() }
    }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

/// The hex SHA-1 of a file.
func sha1Hex(ofFileAt path: String) -> String {
    guard let data = FileManager.default.contents(atPath: path) else { return "missing" }
    return Hex.encode(SHA1.hash(Array(data)))
}
