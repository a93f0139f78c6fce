import BinaryCoding

/// Why a snapshot could not be restored.
public struct SnapshotError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What was wrong, e.g. "bad magic", "checksum mismatch", "truncated u32 at byte 12".
    public var reason: String

    /// Makes an error with a reason.
    public init(_ reason: String) { self.reason = reason }

    /// "corrupt tracker snapshot: " and the reason.
    public var description: String { "corrupt tracker snapshot: \(reason)" }
}

/// The snapshot format: magic `TRSM`, a 16-bit version, the state in sorted order (users by
/// id, sessions by token hash, groups by id, files by name, sharers by user id, cached session
/// clients by (token hash, client id), cached login clients by (client id, user id); members
/// and requests in their stored order), then the CRC32C (as a u64) of every byte before it.
/// Only one byte sequence encodes a given state, so snapshots compare as bytes. Quota usage is
/// not stored: it is derived from the groups and rebuilt on restore.
///
/// Version 3 keys the exactly-once tables by session and by (client, user) instead of by client
/// id alone. Version 4 adds each session's certificate fingerprint (a blob after its lease);
/// version 3 still restores (its sessions have none, as logins without TLS). Earlier versions
/// are refused.
extension TrackerStateMachine {
    /// The snapshot's first four bytes, "TRSM".
    public static let snapshotMagic: UInt32 = 0x5452_534D
    /// The snapshot format version.
    public static let snapshotVersion: UInt16 = 4
    /// The oldest format `restore` still reads.
    public static let oldestRestorableSnapshotVersion: UInt16 = 3

    /// The whole state as bytes, deterministically: equal states give equal bytes on every
    /// replica and process.
    public func snapshot() -> [UInt8] {
        var w = ByteWriter(capacity: snapshotCapacityEstimate())
        w.write(Self.snapshotMagic)
        w.write(Self.snapshotVersion)
        w.write(appliedCount)
        w.write(UInt32(state.users.count))
        for id in state.users.keys.sorted() {
            let user = state.users[id]!
            w.write(id); w.writeBlob(user.salt); w.writeBlob(user.passwordHash)
        }
        w.write(UInt32(state.sessions.count))
        for token in state.sessions.keys.sorted() {
            let session = state.sessions[token]!
            w.write(token); w.write(session.userID); w.write(session.peerAddress); w.write(session.leaseExpiryMillis)
            w.writeBlob(session.certificateFingerprint)
        }
        w.write(UInt32(state.groups.count))
        for id in state.groups.keys.sorted() { Self.write(group: state.groups[id]!, id: id, into: &w) }
        w.write(UInt32(sessionClients.count))
        for (key, entry) in sessionClients.sortedEntries() {
            w.write(key.tokenHash); w.write(key.clientID)
            Self.write(entry, into: &w)
        }
        w.write(UInt32(loginClients.count))
        for (key, entry) in loginClients.sortedEntries() {
            w.write(key.clientID); w.write(key.userID)
            Self.write(entry, into: &w)
        }
        w.write(UInt64(CRC32C.checksum(w.bytes)))
        return w.bytes
    }

    private static func write<Key>(_ entry: ClientTable<Key>.Entry, into w: inout ByteWriter) {
        w.write(entry.sequence); w.write(entry.lastUsedStamp)
        entry.result.write(into: &w)
    }

    private static func write(group: Group, id: String, into w: inout ByteWriter) {
        w.write(id)
        w.write(UInt32(group.members.count))
        for member in group.members { w.write(member) }
        w.write(UInt32(group.pendingRequests.count))
        for userID in group.pendingRequests { w.write(userID) }
        w.write(UInt32(group.files.count))
        for name in group.files.keys.sorted() {
            let file = group.files[name]!
            w.write(file.metadata)
            w.write(UInt32(file.sharers.count))
            for sharer in file.sharers { w.write(sharer.userID); w.writeBlob(sharer.pieces) }
        }
    }

    private func snapshotCapacityEstimate() -> Int {
        let cached = sessionClients.count + loginClients.count
        var bytes = 64 + state.users.count * 128 + state.sessions.count * 128 + cached * 96
        for group in state.groups.values {
            bytes += 64 + (group.members.count + group.pendingRequests.count) * 40
            for file in group.files.values { bytes += 128 + file.metadata.pieceHashes.count + file.sharers.count * 64 }
        }
        return bytes
    }

    /// Rebuilds a machine from `snapshot()` bytes. Throws `SnapshotError` on a bad magic,
    /// version or checksum, truncation, trailing bytes, unsorted or duplicate keys, or any state
    /// that breaks an invariant under `limits`.
    /// `checksInvariants: false` skips the whole-state invariant walk, for a snapshot this
    /// tracker wrote itself and whose storage checksum and own checksum both matched.
    public static func restore(_ bytes: [UInt8], limits: Limits = .standard, checksInvariants: Bool = true) throws(SnapshotError) -> TrackerStateMachine {
        guard bytes.count >= 14 else { throw SnapshotError("truncated: \(bytes.count) bytes") }
        var header = ByteReader(bytes[0..<6])
        guard (try? header.readUInt32()) == snapshotMagic else { throw SnapshotError("bad magic") }
        let version = (try? header.readUInt16()) ?? 0
        guard (oldestRestorableSnapshotVersion...snapshotVersion).contains(version) else {
            throw SnapshotError("unsupported version \(version) (this build reads versions \(oldestRestorableSnapshotVersion)...\(snapshotVersion))")
        }
        var trailer = ByteReader(bytes[(bytes.count - 8)...])
        let stored = (try? trailer.readUInt64()) ?? 0
        let crc = bytes.withUnsafeBytes { UInt64(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[..<($0.count - 8)]))) }
        guard stored == crc else { throw SnapshotError("checksum mismatch") }
        var machine = TrackerStateMachine(limits: limits)
        do {
            var r = ByteReader(bytes[6..<(bytes.count - 8)])
            try machine.readBody(from: &r, version: version)
            try r.expectEnd()
        } catch let error as SnapshotError {
            throw error
        } catch {
            throw SnapshotError("\(error)")
        }
        if checksInvariants, let why = machine.invariantViolation() { throw SnapshotError("inconsistent state: \(why)") }
        return machine
    }
}
