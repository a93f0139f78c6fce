import Foundation
import PeerTransfer
import Testing

/// The temporary download file and the final link, against files planted at their paths.
@Suite("download temporary file")
struct PartFileTests {
    /// A fresh folder, removed by the caller.
    static func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("part-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func mode(_ path: String) -> mode_t? {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & 0o777 : nil
    }

    static func refusal(_ path: String, sizeBytes: UInt64 = 100) -> String? {
        do {
            _ = try PartFile.open(path, sizeBytes: sizeBytes)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test("a new temporary file is created 0600; an existing one of ours, no larger than the file, is resumed")
    func createAndResume() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/.f.part"
        let (file, isResumed) = try PartFile.open(path, sizeBytes: 100)
        #expect(!isResumed)
        #expect(Self.mode(path) == 0o600)
        try file.write([1, 2, 3], at: 0)
        let again = try PartFile.open(path, sizeBytes: 100)
        #expect(again.isResumed)
        #expect(try again.file.read(count: 3, at: 0) == [1, 2, 3])
        #expect(Self.refusal(path, sizeBytes: 2)?.contains("is larger") == true)
    }

    @Test("a symbolic link planted at the temporary path is refused and its target is untouched")
    func plantedSymlink() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let victim = dir + "/victim"
        try Data("precious".utf8).write(to: URL(fileURLWithPath: victim))
        try FileManager.default.createSymbolicLink(atPath: dir + "/.f.part", withDestinationPath: victim)
        #expect(Self.refusal(dir + "/.f.part")?.contains("symbolic link") == true)
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious")
        try FileManager.default.createSymbolicLink(atPath: dir + "/.g.part", withDestinationPath: dir + "/created-through-link")
        #expect(Self.refusal(dir + "/.g.part")?.contains("symbolic link") == true)
        #expect(!FileManager.default.fileExists(atPath: dir + "/created-through-link"), "a dangling link is not followed either")
    }

    @Test("a FIFO, a folder or a hard link to another file at the temporary path is refused")
    func otherPlantedFiles() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(mkfifo(dir + "/.fifo.part", 0o600) == 0)
        #expect(Self.refusal(dir + "/.fifo.part")?.contains("not a regular file") == true)
        try FileManager.default.createDirectory(atPath: dir + "/.dir.part", withIntermediateDirectories: false)
        #expect(Self.refusal(dir + "/.dir.part")?.contains("refusing") == true)
        try Data("mine".utf8).write(to: URL(fileURLWithPath: dir + "/other"))
        #expect(link(dir + "/other", dir + "/.hard.part") == 0)
        #expect(Self.refusal(dir + "/.hard.part")?.contains("hard links") == true)
        #expect(try String(contentsOfFile: dir + "/other", encoding: .utf8) == "mine")
    }

    @Test("the final link never replaces a file or a link, and links the open file even if the path was swapped")
    func finalLink() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let temp = dir + "/.f.part"
        let (file, _) = try PartFile.open(temp, sizeBytes: 5)
        try file.write(Array("bytes".utf8), at: 0)
        try Data("old".utf8).write(to: URL(fileURLWithPath: dir + "/exists"))
        #expect(throws: PartFileError.self) { try PartFile.linkIntoPlace(file, temporaryPath: temp, finalPath: dir + "/exists") }
        #expect(try String(contentsOfFile: dir + "/exists", encoding: .utf8) == "old")
        try FileManager.default.createSymbolicLink(atPath: dir + "/dangling", withDestinationPath: dir + "/through-link")
        #expect(throws: PartFileError.self) { try PartFile.linkIntoPlace(file, temporaryPath: temp, finalPath: dir + "/dangling") }
        #expect(!FileManager.default.fileExists(atPath: dir + "/through-link"))
        // Someone moves the temporary file away and puts a link to their file at its path: the
        // verified bytes are still what lands at the destination, and their file stays.
        try Data("theirs".utf8).write(to: URL(fileURLWithPath: dir + "/theirs"))
        #expect(rename(temp, dir + "/moved") == 0)
        try FileManager.default.createSymbolicLink(atPath: temp, withDestinationPath: dir + "/theirs")
        try PartFile.linkIntoPlace(file, temporaryPath: temp, finalPath: dir + "/final")
        #expect(try String(contentsOfFile: dir + "/final", encoding: .utf8) == "bytes")
        #expect(try String(contentsOfFile: dir + "/theirs", encoding: .utf8) == "theirs")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: temp)) == dir + "/theirs", "a name not ours is left alone")
        let mask = Glibc.umask(0o022)  // read it (and put it back at once)
        _ = Glibc.umask(mask)
        #expect(Self.mode(dir + "/final") == 0o666 & ~mask, "the finished file gets the permissions of a new file")
    }

    @Test("a temporary file deleted during the download is not replaced by what is at its path now")
    func deletedTemporaryFile() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let temp = dir + "/.f.part"
        let (file, _) = try PartFile.open(temp, sizeBytes: 5)
        try file.write(Array("bytes".utf8), at: 0)
        try Data("theirs".utf8).write(to: URL(fileURLWithPath: dir + "/theirs"))
        #expect(unlink(temp) == 0)
        try FileManager.default.createSymbolicLink(atPath: temp, withDestinationPath: dir + "/theirs")
        #expect(throws: PartFileError.self) { try PartFile.linkIntoPlace(file, temporaryPath: temp, finalPath: dir + "/final") }
        #expect(!FileManager.default.fileExists(atPath: dir + "/final"), "their file is not linked into place")
        #expect(try String(contentsOfFile: dir + "/theirs", encoding: .utf8) == "theirs")
    }
}
