import Foundation
import SystemClock
import TrackerStateMachine

/// What one served connection told its downloader about the file it named.
struct ServedLink {
    /// The file named by the last `bitfieldRequest`.
    var key: ShareKey?
    var pieceCount = 0
    /// Whether the file is super-seeded to this connection (it is held complete).
    var isSuperSeeding = false
    /// Otherwise: the pieces told so far, and the registry's mark cursor.
    var told = PieceBits(count: 0)
    var cursor: UInt64 = 0
}

/// The requests of an authenticated connection, and the `have` announcements pushed to it.
extension PeerServer {
    func answerRequests(on wire: PieceWire, id: Int, credentials: PeerCredentials, host: String) throws {
        let (groupID, userID) = (credentials.groupID, credentials.userID)
        var verdict = (atMillis: SystemClock.monotonicMillis(), trustMillis: UInt64(TransferLimits.peerAuthorizationFreshMillis))
        var link = ServedLink()
        defer { endLink(&link, id: id) }
        var heardMillis = SystemClock.monotonicMillis()
        var openFile: PieceFile?
        while !isStopped.load(ordering: .relaxed) {
            try announce(&link, id: id, on: wire)
            guard try wire.waitUntilReadable(timeoutMillis: TransferLimits.idlePollMillis) else {
                if elapsed(from: heardMillis, to: SystemClock.monotonicMillis()) > UInt64(TransferLimits.servingIdleTimeoutMillis) { return }
                continue
            }
            let message = try wire.receive(maxBytes: 0)
            heardMillis = SystemClock.monotonicMillis()
            let violation = PeerMessageCheck.violation(of: message, expecting: .request)
            switch message {
            case let .have(fileName, pieces):
                // Unanswered, so a bad one ends the connection: a reject would be taken for an answer.
                let why = violation ?? (link.key?.fileName == fileName
                    ? PeerMessageCheck.haveViolation(pieces, pieceCount: link.pieceCount) : "have for a file not asked about")
                if let why {
                    refuse(.badRequest, host: host, detail: [(key: "user", value: userID), (key: "why", value: why)])
                    return
                }
                noteHave(link, id: id, pieces: pieces)
            case _ where violation != nil && message.isRequest:
                try wire.send(.reject(reason: violation!))
            case let .bitfieldRequest(fileName):
                try subscribe(&link, id: id, groupID: groupID, fileName: fileName, on: wire)
            case let .request(requestGroup, fileName, index):
                guard isStillAuthorized(credentials, verdict: &verdict, host: host) else {
                    try wire.send(.reject(reason: "no longer an online member of \(groupID)"))
                    return
                }
                let request = PieceRequest(sessionGroup: groupID, groupID: requestGroup, fileName: fileName, index: Int(index), userID: userID)
                try answerPieceRequest(request, link: link, id: id, on: wire, openFile: &openFile)
            case let .pieceListRequest(fileName, first, count):
                try answerPieceList(groupID: groupID, fileName: fileName, first: Int(first), count: Int(count), on: wire)
            default:
                refuse(.badRequest, host: host, detail: [(key: "user", value: userID), (key: "why", value: violation ?? "unexpected message")])
                try wire.send(.reject(reason: "unexpected message"))
                return
            }
        }
    }

    /// Whether the connection's verdict still holds: fresh, or confirmed again by the tracker
    /// now, or kept because no tracker could be asked (asked again later).
    private func isStillAuthorized(_ credentials: PeerCredentials, verdict: inout (atMillis: UInt64, trustMillis: UInt64),
                                   host: String) -> Bool {
        guard elapsed(from: verdict.atMillis, to: SystemClock.monotonicMillis()) >= verdict.trustMillis else { return true }
        let answer = authorize(credentials)
        let now = SystemClock.monotonicMillis()
        switch answer {
        case .allowed:
            verdict = (now, UInt64(TransferLimits.peerAuthorizationFreshMillis))
            return true
        case let .unknown(reason):
            logUnknownVerdict(credentials, reason: reason)
            verdict = (now, UInt64(TransferLimits.peerAuthorizationUnknownRetryMillis))
            return true
        case let .refused(reason):
            refuse(.notAuthorized, host: host,
                   detail: [("user", credentials.userID), ("group", credentials.groupID), ("reason", reason), ("recheck", "true")])
            return false
        }
    }

    private func logUnknownVerdict(_ credentials: PeerCredentials, reason: String) {
        log.warn("membership check unanswered; serving on with the last verdict",
                 ["user": credentials.userID, "group": credentials.groupID, "reason": reason,
                  "retry_ms": "\(TransferLimits.peerAuthorizationUnknownRetryMillis)"])
    }

    /// Answers `bitfieldRequest`: from now on the connection follows this file.
    private func subscribe(_ link: inout ServedLink, id: Int, groupID: String, fileName: String, on wire: PieceWire) throws {
        endLink(&link, id: id)
        guard let share = registry.share(groupID: groupID, fileName: fileName) else {
            return try wire.send(.reject(reason: "not sharing \(fileName)"))
        }
        let key = ShareKey(groupID: groupID, fileName: fileName)
        link = ServedLink(key: key, pieceCount: share.pieceCount)
        if share.isComplete && share.file == nil {
            link.isSuperSeeding = true
            let now = SystemClock.monotonicMillis()
            let offered = seeding.withLock { $0[key, default: SuperSeeding(pieceCount: share.pieceCount)].join(id, nowMillis: now) }
            try wire.send(.bitfield(fileName: fileName, pieces: Self.bitfield(of: offered, pieceCount: share.pieceCount)))
        } else {
            link.told = PieceBits(count: share.pieceCount)
            for index in 0..<share.pieceCount where PieceBitfield.contains(share.pieces, piece: index) { link.told.insert(index) }
            link.cursor = share.markCount
            try wire.send(.bitfield(fileName: fileName, pieces: share.pieces))
        }
    }

    /// Pushes `have` for what the connection was not told yet: new offers while super-seeding,
    /// else the pieces the share gained.
    private func announce(_ link: inout ServedLink, id: Int, on wire: PieceWire) throws {
        guard let key = link.key else { return }
        var pieces: [Int]
        if link.isSuperSeeding {
            let now = SystemClock.monotonicMillis()
            pieces = seeding.withLock { $0[key]?.announcements(for: id, nowMillis: now) ?? [] }
        } else {
            guard let share = registry.share(groupID: key.groupID, fileName: key.fileName), share.markCount != link.cursor,
                  share.pieceCount == link.pieceCount else { return }
            if let marked = share.marks(after: link.cursor) {
                pieces = marked.pieces
                link.cursor = marked.cursor
            } else {
                pieces = (0..<share.pieceCount).filter { PieceBitfield.contains(share.pieces, piece: $0) }
                link.cursor = share.markCount
            }
            pieces = pieces.filter { link.told.insert($0) }.sorted()
        }
        guard !pieces.isEmpty else { return }
        var messages: [PieceMessage] = []
        var start = 0
        while start < pieces.count {
            let end = min(pieces.count, start + TransferLimits.haveIndicesMax)
            messages.append(.have(fileName: key.fileName, pieces: pieces[start..<end].map { UInt32($0) }))
            start = end
        }
        try wire.send(messages)
    }

    private func noteHave(_ link: ServedLink, id: Int, pieces: [UInt32]) {
        guard link.isSuperSeeding, let key = link.key else { return }
        let now = SystemClock.monotonicMillis()
        seeding.withLock { $0[key]?.peerHas(id, pieces: pieces.map { Int($0) }, nowMillis: now) }
    }

    /// The connection stops following its file.
    func endLink(_ link: inout ServedLink, id: Int) {
        if link.isSuperSeeding, let key = link.key {
            seeding.withLock { all in
                all[key]?.leave(id)
                if all[key]?.connectionCount == 0 { all[key] = nil }
            }
        }
        link = ServedLink()
    }

    static func bitfield(of pieces: [Int], pieceCount: Int) -> [UInt8] {
        var bits = [UInt8](repeating: 0, count: PieceBitfield.byteCount(pieceCount: pieceCount))
        for index in pieces where index >= 0 && index < pieceCount { bits[index / 8] |= 0x80 >> UInt8(index % 8) }
        return bits
    }
}

extension PieceMessage {
    /// Whether a downloader sends it expecting an answer.
    var isRequest: Bool {
        switch self {
        case .bitfieldRequest, .request, .pieceListRequest: true
        default: false
        }
    }
}
