/// What a membership check found: allowed, refused with a reason, or unknown because the
/// tracker could not be asked (every tracker down or unreachable). A new connection needs an
/// answer, so unknown refuses it; a connection already being served keeps its last verdict and
/// the check is asked again after `TransferLimits.peerAuthorizationUnknownRetryMillis`, so a
/// download in progress outlives the trackers with the sharers it knows.
public enum PeerVerdict: Equatable, Sendable, ExpressibleByNilLiteral, ExpressibleByStringLiteral {
    /// An online member with the right credentials.
    case allowed
    /// Not allowed, and why.
    case refused(String)
    /// No tracker answered, and why.
    case unknown(String)

    /// `nil` reads as allowed (the convention of the closure's earlier `String?` form).
    public init(nilLiteral: ()) { self = .allowed }
    /// A string reads as a refusal with that reason.
    public init(stringLiteral reason: String) { self = .refused(reason) }

    /// Why it is not allowed (refused or unknown), nil when allowed.
    public var reason: String? {
        switch self {
        case .allowed: nil
        case let .refused(reason), let .unknown(reason): reason
        }
    }
}
