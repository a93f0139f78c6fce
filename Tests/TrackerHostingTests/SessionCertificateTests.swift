import Testing
@testable import TrackerHosting
import TrackerProtocol

/// A session is bound to the certificate it logged in with: over TLS, a request carrying its
/// token on a connection that presented another certificate (a stolen token used from another
/// key) is refused and counted, and the session itself is left alone.
@Suite("Session tokens bound to the client's certificate")
struct SessionCertificateTests {
    let own = [UInt8](repeating: 0xA1, count: 32)
    let other = [UInt8](repeating: 0xB2, count: 32)

    /// Creates `user` and logs it in over a TLS connection presenting `own`; returns the token.
    func loggedIn(_ cluster: inout HostCluster, user: String, clientID: UInt64) throws -> [UInt8] {
        let leader = try #require(cluster.leader)
        let created = cluster.send(ClientRequest(clientID: clientID, sequence: 1, operation: .createUser(userID: user, password: "pw")), to: leader, certificate: own)
        #expect(created == .result(.ok(.done)))
        let login = ClientRequest(clientID: clientID, sequence: 2, token: [UInt8](repeating: 7, count: 32),
                                  operation: .login(userID: user, password: "pw", peerAddress: "127.0.0.1:9000", certificateFingerprint: own))
        guard case let .loggedIn(token, _) = cluster.send(login, to: leader, certificate: own) else {
            Issue.record("login failed")
            return []
        }
        return token
    }

    func isRejected(_ response: ClientResponse?) -> Bool {
        if case .rejected = response { true } else { false }
    }

    @Test("a token used over a connection with another certificate is refused; with its own it works")
    func stolenTokenIsRefused() throws {
        var cluster = HostCluster()
        let leader = cluster.electLeader()
        let token = try loggedIn(&cluster, user: "alice", clientID: 7)
        let write = ClientRequest(clientID: 9, sequence: 1, token: token, operation: .command(.createGroup(groupID: "g1")))
        #expect(isRejected(cluster.send(write, to: leader, certificate: other)))
        let read = ClientRequest(clientID: 9, sequence: 2, token: token, operation: .query(.listGroups()))
        #expect(isRejected(cluster.send(read, to: leader, certificate: other)))
        let keepAlive = ClientRequest(clientID: 9, sequence: 3, token: token, operation: .command(.keepAlive))
        #expect(isRejected(cluster.send(keepAlive, to: leader, certificate: [])), "a connection without a certificate")
        let host: TrackerHost = try #require(cluster.hosts[leader])
        #expect(host.counters.refusedCertificateMismatch == 3)
        let owned = ClientRequest(clientID: 7, sequence: 3, token: token, operation: .command(.createGroup(groupID: "g1")))
        #expect(cluster.send(owned, to: leader, certificate: own) == .result(.ok(.done)))
    }

    @Test("without a quorum, a follower answering stale reads refuses a token from another certificate too")
    func staleReadChecksTheCertificate() throws {
        var cluster = HostCluster()
        let leader = cluster.electLeader()
        let token = try loggedIn(&cluster, user: "carol", clientID: 7)
        cluster.tick(5) // every follower applies the login
        let follower = try #require(cluster.ids.first { $0 != leader })
        cluster.isolated = Set(cluster.ids)
        var ticks = 0
        while cluster.ids.contains(where: { cluster.hosts[$0]!.raft.role == .leader }) || ticks < 20, ticks < 500 {
            cluster.tick(1)
            ticks += 1
        }
        let read = ClientRequest(clientID: 9, sequence: 1, token: token, operation: .query(.listFiles(groupID: "g")), allowsStale: true)
        #expect(isRejected(cluster.send(read, to: follower, certificate: other)))
        let own = cluster.send(ClientRequest(clientID: 7, sequence: 9, token: token, operation: .query(.listFiles(groupID: "g")), allowsStale: true),
                               to: follower, certificate: self.own)
        guard case .possiblyStale = own else { return #expect(Bool(false), "own certificate answered \(String(describing: own))") }
    }

    @Test("without TLS (no certificate known for the connection) the token alone is the proof")
    func plaintextIsUnchanged() throws {
        var cluster = HostCluster()
        let leader = cluster.electLeader()
        let token = try TrackerHostTests().loggedIn(&cluster, user: "bob", clientID: 5)
        let write = ClientRequest(clientID: 5, sequence: 3, token: token, operation: .command(.createGroup(groupID: "g2")))
        #expect(cluster.send(write, to: leader) == .result(.ok(.done)))
        #expect(cluster.hosts[leader]!.counters.refusedCertificateMismatch == 0)
    }
}
