import Consensus
import Networking

/// The tracker's TLS configuration, in one value: its identity (key pair and self-signed
/// certificate in the data directory), the server context its one port serves with, the client
/// context it dials peer trackers with, and the fingerprints cluster.conf pins for each tracker.
///
/// The port serves trackers and clients alike: the event loop's sessions ask every connection
/// for a certificate and accept one without (`PeerVerification.optionalCertificate`). After the
/// hello, a connection announcing a tracker must have presented the certificate pinned for that
/// id (`trackerRefusal`); a client's certificate is what its login must name and records.
/// Dialing a peer tracker pins its fingerprint in `pins`: the configuration in force's, or
/// the cluster.conf line's for a member the configuration does not pin (a seed member).
/// Shared by the event loop (which drives `TLSSession`s over memory BIOs with
/// `serverContext`) and the peer links' threads.
struct NodeTLS: Sendable {
    /// This tracker's identity.
    let identity: TLSIdentity
    /// Sessions accepted on the tracker's port.
    let serverContext: TLSContext
    /// Sessions dialed to peer trackers (presenting `identity`).
    let clientContext: TLSContext
    /// The fingerprints trackers are checked against, following the configuration.
    let pins: TrackerPins

    /// Loads (or on first start makes) the identity in `dataDirectory` and pins every line of
    /// `cluster`, which must all carry a fingerprint; this tracker's own line must pin its own
    /// certificate. Errors name the file, the line's id and both fingerprints.
    static func load(dataDirectory: String, cluster: ClusterConfig, selfID: NodeID, confPath: String) throws -> NodeTLS {
        let identity = try TLSIdentity.loadOrCreate(directory: dataDirectory, commonName: "tracker-\(selfID)")
        var pins: [NodeID: CertificateFingerprint] = [:]
        for tracker in cluster.trackers {
            guard let fingerprint = tracker.fingerprint else {
                throw NodeTLSError("\(confPath): tracker \(tracker.id): \(ClusterConfig.missingFingerprintReason)")
            }
            pins[tracker.id] = fingerprint
        }
        if let own = pins[selfID], own != identity.fingerprint {
            throw NodeTLSError("""
                \(confPath): the line of tracker \(selfID) pins \(own), but this tracker's certificate \
                (\(dataDirectory)/\(TLSIdentity.certificateFileName)) is \(identity.fingerprint); \
                update the line on every tracker (see README, rotation)
                """)
        }
        return NodeTLS(identity: identity,
                       serverContext: try TLSContext(side: .server, identity: identity),
                       clientContext: try TLSContext(side: .client, identity: identity),
                       pins: TrackerPins(seed: pins))
    }

    /// Dials peer tracker `id` over TLS: its certificate must be the one its line pins.
    func dial(_ socket: Socket, tracker id: NodeID, deadline: ContinuousClock.Instant) throws -> TLSStream {
        guard let pin = pins.peer(id) else { throw NodeTLSError("tracker \(id) has no pinned fingerprint") }
        return try TLSStream.handshake(socket: socket, context: clientContext, verification: .pinned([pin]), deadline: deadline)
    }

    /// Why a connection whose hello announced tracker `id` is refused (nil: it presented the
    /// certificate pinned for `id`).
    func trackerRefusal(id: NodeID, presented: CertificateFingerprint?) -> String? {
        guard let pin = pins.peer(id) else { return "tracker \(id) is neither in cluster.conf nor pinned by the configuration" }
        guard let presented else { return "tracker \(id) presented no certificate" }
        return presented == pin ? nil : "tracker \(id) presented \(presented), but its pin is \(pin)"
    }

    /// Why a `tracker-node member` connection (tracker id 0) is refused (nil: it presented the
    /// certificate pinned for a current member, as the tool does with a tracker's identity).
    func adminRefusal(presented: CertificateFingerprint?) -> String? {
        guard let presented else { return "a member tool connection presented no certificate" }
        return pins.isMember(presented) ? nil : "a member tool connection presented \(presented), pinned for no current member"
    }
}

/// Why the tracker's TLS configuration could not be set up.
struct NodeTLSError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// What `--print-fingerprint` does: loads or makes the identity in `dataDirectory`, returns its
/// `sha256:<hex>`.
func printableFingerprint(dataDirectory: String, selfID: NodeID) throws -> String {
    try TLSIdentity.loadOrCreate(directory: dataDirectory, commonName: "tracker-\(selfID)").fingerprint.description
}
