import BinaryCoding
import Consensus

/// The wire form of `AdminRequest`, sent by `tracker-node member ...` on a connection that
/// proved the cluster key with tracker id 0 (a tool, not a tracker). The answer is a
/// `ServiceFrame.response` carrying a `ClientResponse` (the status, a redirect or a reason).
public enum AdminCodec {
    /// Tool → tracker: u64 tag, then `encode(request)`.
    public static let requestFrame: UInt8 = 22
    /// The format byte of a request without a fingerprint (still decoded).
    static let versionWithoutFingerprint: UInt8 = 1
    /// The format byte that starts a request.
    static let version: UInt8 = 2

    /// `u8 version | u8 kind | u64 id | u64 incarnation | string address | blob fingerprint`
    /// (kind 0 list, 1 add learner, 2 add witness, 3 promote, 4 demote, 5 remove, 6 pin;
    /// unused fields zero/empty). Version 1 had no fingerprint.
    public static func encode(_ request: AdminRequest) -> [UInt8] {
        var w = ByteWriter(capacity: 64)
        w.write(version)
        let (kind, id, incarnation, address): (UInt8, UInt64, UInt64, String)
        var fingerprint: [UInt8] = []
        switch request {
        case .list: (kind, id, incarnation, address) = (0, 0, 0, "")
        case let .change(.addLearner(member, at, inc, pin)): ((kind, id, incarnation, address), fingerprint) = ((1, member, inc, at), pin)
        case let .change(.addWitness(member, at, inc, pin)): ((kind, id, incarnation, address), fingerprint) = ((2, member, inc, at), pin)
        case let .change(.promote(member)): (kind, id, incarnation, address) = (3, member, 0, "")
        case let .change(.demote(member)): (kind, id, incarnation, address) = (4, member, 0, "")
        case let .change(.remove(member)): (kind, id, incarnation, address) = (5, member, 0, "")
        case let .change(.pin(member, inc)): (kind, id, incarnation, address) = (6, member, inc, "")
        }
        w.write(kind)
        w.write(id)
        w.write(incarnation)
        w.write(address)
        w.writeBlob(fingerprint)
        return w.bytes
    }

    /// Decodes `encode`'s bytes; anything else throws. Ids and addresses are checked again by
    /// the core when a change is proposed.
    public static func decode(_ bytes: [UInt8]) throws -> AdminRequest {
        var r = ByteReader(bytes)
        let format = try r.readUInt8()
        guard format == version || format == versionWithoutFingerprint else { throw DecodingError("unknown admin request version", offset: 0) }
        let kind = try r.readUInt8()
        let id = try r.readUInt64()
        let incarnation = try r.readUInt64()
        let address = try r.readString(maxBytes: Configuration.addressBytesMax)
        let fingerprint = format == version ? try r.readBlob(maxCount: Configuration.fingerprintBytes) : []
        try r.expectEnd()
        switch kind {
        case 0: return .list
        case 1: return .change(.addLearner(id: id, address: address, incarnation: incarnation, fingerprint: fingerprint))
        case 2: return .change(.addWitness(id: id, address: address, incarnation: incarnation, fingerprint: fingerprint))
        case 3: return .change(.promote(id: id))
        case 4: return .change(.demote(id: id))
        case 5: return .change(.remove(id: id))
        case 6: return .change(.pin(id: id, incarnation: incarnation))
        default: throw DecodingError("unknown admin request", offset: 1)
        }
    }
}
