import BinaryCoding
import Consensus
import Glibc

/// Snapshot files in a directory: `snapshot-<index, 20 digits>.snap`, each `magic "RSNP" |
/// u16 version | u64 index | u64 term | [version 2: u32 configuration length (0: none) |
/// configuration] | u64 length | data | u32 CRC32C of everything before`. Version 1 (no
/// configuration) is still read; version 2 is written.
/// A snapshot is written crash-safely (temporary file, fsync, rename, directory fsync); the
/// newest `keptCount` are kept, older ones deleted.
///
/// Thread safety: an instance is used from one thread at a time. Two instances on the same
/// directory (the event loop's and a background writer's) are safe: files appear only by rename.
public final class SnapshotStore {
    /// How many snapshots are kept, so that a damaged newest one has an intact predecessor.
    public static let keptCount = 2
    static let magic: [UInt8] = Array("RSNP".utf8)
    static let version: UInt16 = 2
    /// Bytes of a version 1 header.
    static let headerBytes = 4 + 2 + 8 + 8 + 8
    static let prefix = "snapshot-"
    static let suffix = ".snap"

    /// The directory holding the snapshots.
    public let directory: String

    /// Uses `directory` (which must exist).
    public init(directory: String) { self.directory = directory }

    static func fileName(index: UInt64) -> String {
        let digits = String(index)
        return prefix + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + suffix
    }

    /// Writes `snapshot` durably, then deletes all but the newest `keptCount` snapshots.
    public func write(_ snapshot: Snapshot) throws {
        let path = directory + "/" + Self.fileName(index: snapshot.meta.index)
        let temp = path + ".tmp"
        let fd = try SystemFiles.open(temp, flags: O_WRONLY | O_CREAT | O_TRUNC)
        do {
            try SystemFiles.writeAll(fd, Self.encode(snapshot), at: 0, path: temp)
            try SystemFiles.syncAll(fd, path: temp)
        } catch {
            SystemFiles.close(fd)
            throw error
        }
        SystemFiles.close(fd)
        try SystemFiles.rename(temp, to: path)
        let directoryFD = try SystemFiles.open(directory, flags: O_RDONLY | O_DIRECTORY)
        defer { SystemFiles.close(directoryFD) }
        try SystemFiles.syncAll(directoryFD, path: directory)
        for old in try snapshotFiles().dropFirst(Self.keptCount) { try SystemFiles.remove(old.path) }
    }

    /// The newest intact snapshot, or nil when there is none at all. Damaged newer ones are
    /// skipped (their errors are returned) when an older intact one exists; when snapshots
    /// exist but none is intact, this throws rather than let the node start without its state.
    public func loadNewest() throws -> (snapshot: Snapshot?, skipped: [DurableLogError]) {
        for name in try SystemFiles.list(directory) where name.hasPrefix(Self.prefix) && name.hasSuffix(".tmp") {
            try SystemFiles.remove(directory + "/" + name)
        }
        var skipped: [DurableLogError] = []
        for file in try snapshotFiles() {
            do {
                let snapshot = try Self.decode(try SystemFiles.readAll(file.path) ?? [], path: file.path)
                guard snapshot.meta.index == file.index else {
                    throw DurableLogError(.corruptSnapshot, path: file.path, reason: "holds index \(snapshot.meta.index)")
                }
                return (snapshot, skipped)
            } catch let error as DurableLogError where error.kind == .corruptSnapshot {
                skipped.append(error)
            }
        }
        if let newest = skipped.first {
            throw DurableLogError(.corruptSnapshot, path: newest.path,
                                  reason: "no intact snapshot is left (\(skipped.map(\.description).joined(separator: "; "))); refusing to start without the state it held")
        }
        return (nil, [])
    }

    /// Snapshot files, newest first.
    func snapshotFiles() throws -> [(index: UInt64, path: String)] {
        var found: [(index: UInt64, path: String)] = []
        for name in try SystemFiles.list(directory) where name.hasPrefix(Self.prefix) && name.hasSuffix(Self.suffix) {
            let digits = name.dropFirst(Self.prefix.count).dropLast(Self.suffix.count)
            guard digits.count == 20, let index = UInt64(digits) else { continue }
            found.append((index, directory + "/" + name))
        }
        return found.sorted { $0.index > $1.index }
    }

    static func encode(_ snapshot: Snapshot) -> [UInt8] {
        let configuration = snapshot.meta.configuration?.encoded() ?? []
        var writer = ByteWriter(capacity: headerBytes + 4 + configuration.count + snapshot.data.count + 4)
        writer.writeRaw(magic)
        writer.write(version)
        writer.write(snapshot.meta.index)
        writer.write(snapshot.meta.term)
        writer.writeBlob(configuration)
        writer.write(UInt64(snapshot.data.count))
        writer.writeRaw(snapshot.data)
        writer.write(CRC32C.checksum(writer.bytes))
        return writer.bytes
    }

    /// Checks and unwraps a snapshot file's bytes, in place (no second copy of the data).
    static func decode(_ file: consuming [UInt8], path: String) throws -> Snapshot {
        var bytes = file
        func damaged(_ reason: String) -> DurableLogError { DurableLogError(.corruptSnapshot, path: path, reason: reason) }
        guard bytes.count >= headerBytes + 4 else { throw damaged("shorter than a snapshot header (\(bytes.count) bytes)") }
        guard Array(bytes[0..<4]) == magic else { throw damaged("bad magic") }
        var trailer = ByteReader(bytes[(bytes.count - 4)...])
        let stored = try trailer.readUInt32()
        let crc = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[..<($0.count - 4)])) }
        guard crc == stored else { throw damaged("checksum mismatch") }
        // The checksum matches: what follows was written whole, but an old or forged file is
        // still checked field by field.
        let (meta, dataStart) = try decodeHeader(bytes[4..<(bytes.count - 4)], path: path)
        bytes.removeLast(4)
        bytes.removeFirst(dataStart)
        return Snapshot(meta: meta, data: bytes)
    }

    /// Reads the header fields after the magic, up to the data; returns the metadata and the
    /// offset of the data in the file.
    private static func decodeHeader(_ body: ArraySlice<UInt8>, path: String) throws -> (SnapshotMeta, Int) {
        func damaged(_ reason: String) -> DurableLogError { DurableLogError(.corruptSnapshot, path: path, reason: reason) }
        var reader = ByteReader(body)
        do {
            let fileVersion = try reader.readUInt16()
            guard fileVersion == 1 || fileVersion == version else { throw damaged("unknown version \(fileVersion)") }
            let index = try reader.readUInt64()
            let term = try reader.readUInt64()
            guard index <= PersistedState.snapshotIndexMax else { throw damaged("index \(index) above the maximum") }
            var configuration: Configuration?
            if fileVersion == version {
                let encoded = try reader.readBlob(maxCount: Configuration.encodedBytesMax)
                if !encoded.isEmpty { configuration = try Configuration(decoding: encoded) }
            }
            let length = try reader.readUInt64()
            guard length == UInt64(reader.remainingCount) else {
                throw damaged("length \(length) does not match the file size \(body.count + 8): half-written or cut")
            }
            return (SnapshotMeta(index: index, term: term, configuration: configuration), reader.position)
        } catch let error as DurableLogError {
            throw error
        } catch {
            throw damaged("undecodable header: \(error)")
        }
    }
}
