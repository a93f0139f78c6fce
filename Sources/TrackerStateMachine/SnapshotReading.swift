import BinaryCoding

/// FNV-1a, 64-bit: a fast checksum against accidental corruption (not cryptography).
public enum FNV1a64 {
    /// The FNV-1a 64 hash of `bytes`.
    public static func hash(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return hash
    }
}

extension TrackerStateMachine {
    /// Reads everything between the header and the checksum, insisting on strictly sorted keys.
    mutating func readBody(from r: inout ByteReader, version: UInt16) throws {
        appliedCount = try r.readUInt64()
        var previous: String? = nil
        for _ in 0..<(try r.readListCount()) {
            let id = try r.readField()
            try Self.requireAscending(previous, id, "user ids")
            previous = id
            state.users[id] = User(salt: try r.readSmallBlob(), passwordHash: try r.readSmallBlob())
        }
        var previousToken: TokenHash? = nil
        for _ in 0..<(try r.readListCount()) {
            let token = try r.readToken()
            try Self.requireAscending(previousToken, token, "session tokens")
            previousToken = token
            var session = Session(userID: try r.readField(), peerAddress: try r.readField(), leaseExpiryMillis: try r.readUInt64())
            if version >= 4 { session.certificateFingerprint = try r.readFingerprint() }
            guard state.sessionOfUser[session.userID] == nil else { throw SnapshotError("user with two sessions") }
            state.sessions[token] = session
            state.sessionOfUser[session.userID] = token
        }
        previous = nil
        for _ in 0..<(try r.readListCount()) {
            let id = try r.readField()
            try Self.requireAscending(previous, id, "group ids")
            previous = id
            state.groups[id] = try readGroup(from: &r)
        }
        try readClients(from: &r)
        state.usage = state.countedUsage()
    }

    private func readGroup(from r: inout ByteReader) throws -> Group {
        var members: [String] = []
        for _ in 0..<(try r.readListCount()) { members.append(try r.readField()) }
        var group = Group(members: members)
        for _ in 0..<(try r.readListCount()) { group.pendingRequests.append(try r.readField()) }
        var previous: String? = nil
        for _ in 0..<(try r.readListCount()) {
            let metadata = try r.readMetadata(limits: limits)
            try Self.requireAscending(previous, metadata.name, "file names")
            previous = metadata.name
            var file = StoredFile(metadata: metadata, sharers: [])
            for _ in 0..<(try r.readListCount()) {
                file.sharers.append(Sharer(userID: try r.readField(), pieces: try r.readBitfield(limits: limits)))
            }
            group.files[metadata.name] = file
        }
        return group
    }

    /// Both exactly-once tables, keys strictly ascending, no stamp used twice in either.
    private mutating func readClients(from r: inout ByteReader) throws {
        var stamps = Set<UInt64>()
        var sessionEntries: [(key: SessionClientKey, entry: ClientTable<SessionClientKey>.Entry)] = []
        var previousSession: SessionClientKey? = nil
        for _ in 0..<(try r.readListCount()) {
            let key = SessionClientKey(tokenHash: try r.readToken(), clientID: try r.readUInt64())
            try Self.requireAscending(previousSession, key, "session client keys")
            previousSession = key
            sessionEntries.append((key, try readEntry(from: &r, stamps: &stamps)))
        }
        var loginEntries: [(key: LoginClientKey, entry: ClientTable<LoginClientKey>.Entry)] = []
        var previousLogin: LoginClientKey? = nil
        for _ in 0..<(try r.readListCount()) {
            let key = LoginClientKey(clientID: try r.readUInt64(), userID: try r.readField())
            try Self.requireAscending(previousLogin, key, "login client keys")
            previousLogin = key
            loginEntries.append((key, try readEntry(from: &r, stamps: &stamps)))
        }
        // Keys are strictly ascending, so none repeats.
        sessionClients = ClientTable(entries: sessionEntries)
        loginClients = ClientTable(entries: loginEntries)
    }

    private func readEntry<Key>(from r: inout ByteReader, stamps: inout Set<UInt64>) throws -> ClientTable<Key>.Entry {
        let sequence = try r.readUInt64()
        let stamp = try r.readUInt64()
        guard stamps.insert(stamp).inserted else { throw SnapshotError("two cached results with one stamp") }
        return ClientTable<Key>.Entry(sequence: sequence, result: try TrackerResult.read(from: &r, limits: limits), lastUsedStamp: stamp)
    }

    private static func requireAscending<T: Comparable>(_ previous: T?, _ next: T, _ what: String) throws {
        if let previous, !(previous < next) { throw SnapshotError("\(what) not strictly ascending") }
    }
}
