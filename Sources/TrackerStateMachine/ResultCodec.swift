import BinaryCoding

extension TrackerResult {
    /// The result's bytes: version, 0 and the reply, or 1 and the error's code and detail.
    /// (The snapshot keeps cached results without the version; its own version covers them.)
    public func encode() -> [UInt8] {
        var w = ByteWriter()
        w.write(TrackerCodec.readsVersion)
        write(into: &w)
        return w.bytes
    }

    /// Decodes bytes made by `encode()`; throws on anything else.
    public static func decode(_ bytes: [UInt8], limits: Limits = .standard) throws -> TrackerResult {
        var r = ByteReader(bytes)
        try TrackerCodec.readVersion(&r, expected: TrackerCodec.readsVersion)
        let result = try read(from: &r, limits: limits)
        try r.expectEnd()
        return result
    }

    func write(into w: inout ByteWriter) {
        switch self {
        case let .ok(reply):
            w.write(UInt8(0))
            reply.write(into: &w)
        case let .failed(error):
            w.write(UInt8(1))
            w.write(error.code.rawValue)
            w.write(error.detail)
        }
    }

    static func read(from r: inout ByteReader, limits: Limits) throws -> TrackerResult {
        let tag = try r.readUInt8()
        switch tag {
        case 0: return .ok(try TrackerReply.read(from: &r, limits: limits))
        case 1:
            let codeByte = try r.readUInt8()
            guard let code = TrackerError.Code(rawValue: codeByte) else { throw TrackerCodec.unknownTag(codeByte, r) }
            return .failed(TrackerError(code, try r.readField()))
        default: throw TrackerCodec.unknownTag(tag, r)
        }
    }
}

extension TrackerReply {
    func write(into w: inout ByteWriter) {
        switch self {
        case .done: w.write(UInt8(0))
        case let .session(info):
            // Tags 8 and 9 carry certificate fingerprints; 1 and 7 (without) still decode.
            w.write(UInt8(8)); w.write(info.userID); w.write(info.peerAddress); w.write(info.leaseExpiryMillis)
            w.writeBlob(info.certificateFingerprint)
        case let .expiredSessions(count): w.write(UInt8(2)); w.write(count)
        case let .credentials(salt, passwordHash): w.write(UInt8(3)); w.writeBlob(salt); w.writeBlob(passwordHash)
        case let .groups(page):
            w.write(UInt8(4)); w.write(UInt32(page.items.count))
            for g in page.items { w.write(g.groupID); w.write(g.ownerID); w.write(g.memberCount) }
            w.write(page.hasMore)
        case let .requests(page):
            w.write(UInt8(5)); w.write(UInt32(page.items.count))
            for id in page.items { w.write(id) }
            w.write(page.hasMore)
        case let .files(page):
            w.write(UInt8(6)); w.write(UInt32(page.items.count))
            for f in page.items { w.write(f.name); w.write(f.sizeBytes); w.write(f.onlineSharerCount) }
            w.write(page.hasMore)
        case let .download(info):
            w.write(UInt8(9)); w.write(info.metadata); w.write(UInt32(info.peers.count))
            for p in info.peers { w.write(p.userID); w.write(p.peerAddress); w.writeBlob(p.pieces); w.writeBlob(p.certificateFingerprint) }
            w.write(info.omittedPeerCount)
        }
    }

    static func read(from r: inout ByteReader, limits: Limits) throws -> TrackerReply {
        let tag = try r.readUInt8()
        switch tag {
        case 0: return .done
        case 1, 8:
            return .session(SessionInfo(userID: try r.readField(), peerAddress: try r.readField(),
                                        leaseExpiryMillis: try r.readUInt64(), certificateFingerprint: tag == 8 ? try r.readFingerprint() : []))
        case 2: return .expiredSessions(count: try r.readUInt32())
        case 3: return .credentials(salt: try r.readSmallBlob(), passwordHash: try r.readSmallBlob())
        case 4:
            var groups: [GroupSummary] = []
            for _ in 0..<(try r.readListCount()) {
                groups.append(GroupSummary(groupID: try r.readField(), ownerID: try r.readField(), memberCount: try r.readUInt32()))
            }
            return .groups(try r.readPageEnd(groups))
        case 5:
            var ids: [String] = []
            for _ in 0..<(try r.readListCount()) { ids.append(try r.readField()) }
            return .requests(try r.readPageEnd(ids))
        case 6:
            var files: [FileSummary] = []
            for _ in 0..<(try r.readListCount()) {
                files.append(FileSummary(name: try r.readField(), sizeBytes: try r.readUInt64(), onlineSharerCount: try r.readUInt32()))
            }
            return .files(try r.readPageEnd(files))
        case 7, 9:
            let metadata = try r.readMetadata(limits: limits)
            var peers: [PeerInfo] = []
            for _ in 0..<(try r.readListCount()) {
                peers.append(PeerInfo(userID: try r.readField(), peerAddress: try r.readField(), pieces: try r.readBitfield(limits: limits),
                                      certificateFingerprint: tag == 9 ? try r.readFingerprint() : []))
            }
            return .download(DownloadInfo(metadata: metadata, peers: peers, omittedPeerCount: try r.readUInt32()))
        default: throw TrackerCodec.unknownTag(tag, r)
        }
    }
}

extension ByteReader {
    /// The "more" flag that ends a page of `items`; a page claiming more after no item throws.
    mutating func readPageEnd<Item: PageItem>(_ items: [Item]) throws -> Page<Item> {
        let start = position
        let hasMore = try readBool()
        if hasMore && items.isEmpty { throw DecodingError("an empty page cannot have more", offset: start) }
        return Page(items: items, hasMore: hasMore)
    }
}
