import Networking

/// A tracker accepted the TCP connection and ended it before the handshake was over: it is
/// alive but at one of its connection limits (connections per address or in total), which it
/// enforces by closing at once, before any TLS work. The client retries the same tracker after
/// a pause (`LeaderFinder.refused`) instead of costing another tracker a handshake.
struct TrackerRefusal: Error, CustomStringConvertible {
    var description: String

    /// `error`, thrown while securing or greeting a connected socket, as a refusal when the
    /// tracker ended the connection; a timeout (a silent tracker) and a pinning failure stay
    /// what they are.
    static func classify(_ error: any Error) -> any Error {
        switch error {
        case is TrackerClientError, SocketError.timedOut: error
        default: TrackerRefusal(description: "connection closed by the tracker during the handshake: \(error)")
        }
    }
}
