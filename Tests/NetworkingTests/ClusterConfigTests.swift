import Foundation
import Networking
import Testing

@Suite("cluster.conf parsing")
struct ClusterConfigTests {
    @Test("a well-formed file with comments, blank lines and tabs parses, sorted by id")
    func parsesGoodFile() throws {
        let text = """
            # id  address
            3 127.0.0.1:7003   # third

            1\t127.0.0.1:7001
              2 tracker-2.local:7002\r
            """
        let config = try ClusterConfig.parse(text: text, fileName: "cluster.conf")
        #expect(config.trackers == [
            .init(id: 1, address: PeerAddress(host: "127.0.0.1", port: 7001)),
            .init(id: 2, address: PeerAddress(host: "tracker-2.local", port: 7002)),
            .init(id: 3, address: PeerAddress(host: "127.0.0.1", port: 7003)),
        ])
        #expect(config.address(of: 2)?.description == "tracker-2.local:7002")
        #expect(config.address(of: 4) == nil)
    }

    @Test("every malformed line is refused with file:line and what is wrong", arguments: [
        ("1 127.0.0.1:7001\n2 127.0.0.1:7002\n2 127.0.0.1:7003\n", "cluster.conf:3: duplicate id 2 (first on line 2)"),
        ("1 127.0.0.1:7001\n2 127.0.0.1:7001\n", "cluster.conf:2: duplicate address 127.0.0.1:7001 (first on line 1)"),
        ("1 127.0.0.1:70a1\n", "cluster.conf:1: bad port '70a1'"),
        ("# c\n1 127.0.0.1:70000\n", "cluster.conf:2: port 70000 out of range 1...65535"),
        ("1 127.0.0.1:0\n", "cluster.conf:1: port 0 out of range 1...65535"),
        ("1 127.0.0.1:\n", "cluster.conf:1: bad port ''"),
        ("\n1 127.0.0.1\n", "cluster.conf:2: missing ':' between host and port in '127.0.0.1'"),
        ("0 127.0.0.1:7001\n", "cluster.conf:1: id 0 out of range 1...65535"),
        ("65536 127.0.0.1:7001\n", "cluster.conf:1: id 65536 out of range 1...65535"),
        ("-1 127.0.0.1:7001\n", "cluster.conf:1: bad id '-1'"),
        ("hello world\n", "cluster.conf:1: bad id 'hello'"),
        ("1 127.0.0.1:7001 extra\n", "cluster.conf:1: unknown role 'extra' (expected one of voter, witness, or a sha256: fingerprint)"),
        ("7\n", "cluster.conf:1: expected '<id> <host>:<port> [sha256:<hex>] [role]', found 1 field"),
        ("1 256.0.0.1:7001\n", "cluster.conf:1: bad host '256.0.0.1': not an IPv4 dotted quad"),
        ("1 1.2.3:7001\n", "cluster.conf:1: bad host '1.2.3': not an IPv4 dotted quad"),
        ("1 bad_host!:7001\n", "cluster.conf:1: bad host 'bad_host!': not a valid host name"),
        ("1 :7001\n", "cluster.conf:1: bad host '': empty host"),
        ("", "cluster.conf: no trackers listed"),
        ("# only a comment\n\n   \n", "cluster.conf: no trackers listed"),
    ])
    func refusesMalformed(text: String, message: String) {
        #expect {
            _ = try ClusterConfig.parse(text: text, fileName: "cluster.conf")
        } throws: { error in
            (error as? ClusterConfigError)?.description == message
        }
    }

    @Test("more trackers than the limit are refused on the first line over it")
    func refusesTooManyTrackers() {
        let count = NetworkingLimits.clusterTrackersMax + 1
        let text = (1...count).map { "\($0) 10.0.0.1:\(7000 + $0)" }.joined(separator: "\n")
        #expect(throws: ClusterConfigError(
            fileName: "c", line: count, reason: "more than \(NetworkingLimits.clusterTrackersMax) trackers"
        )) {
            _ = try ClusterConfig.parse(text: text, fileName: "c")
        }
    }

    @Test("load reads the file and names its path in errors, including a missing file")
    func loadsFromDisk() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netconf-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = directory.appendingPathComponent("cluster.conf").path
        try "1 127.0.0.1:7001\n2 127.0.0.1:7002\n".write(toFile: good, atomically: true, encoding: .utf8)
        #expect(try ClusterConfig.load(path: good).ids == [1, 2])

        let bad = directory.appendingPathComponent("bad.conf").path
        try "1 127.0.0.1:7001\n1 127.0.0.1:7002\n".write(toFile: bad, atomically: true, encoding: .utf8)
        #expect(throws: ClusterConfigError(fileName: bad, line: 2, reason: "duplicate id 1 (first on line 1)")) {
            _ = try ClusterConfig.load(path: bad)
        }
        let missing = directory.appendingPathComponent("missing.conf").path
        #expect(throws: ClusterConfigError(fileName: missing, line: nil, reason: "cannot open: No such file or directory")) {
            _ = try ClusterConfig.load(path: missing)
        }
    }

    @Test("PeerAddress parses IP:PORT and prints it back; bad text says why")
    func parsesPeerAddress() throws {
        let address = try PeerAddress.parse("127.0.0.1:9001")
        #expect(address == PeerAddress(host: "127.0.0.1", port: 9001))
        #expect(address.description == "127.0.0.1:9001")
        #expect(throws: PeerAddressError.missingColon("127.0.0.1")) { try PeerAddress.parse("127.0.0.1") }
        #expect(throws: PeerAddressError.portOutOfRange("123456")) { try PeerAddress.parse("h:123456") }
        #expect(throws: PeerAddressError.badPort("+80")) { try PeerAddress.parse("h:+80") }
    }

    @Test("the limits are consistent with each other and the wire format")
    func limitsAreConsistent() {
        NetworkingLimits.validate()
        #expect(Hello.encodedByteCount == 31)
    }
}
