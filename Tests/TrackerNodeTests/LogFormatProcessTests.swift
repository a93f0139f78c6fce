import Foundation
import ProcessHarness
import Testing

@Suite("tracker-node --log-format", .serialized)
struct LogFormatProcessTests {
    @Test("with --log-format json every line on standard error is a JSON object with time, level and message")
    func jsonLines() throws {
        let cluster = try TrackerCluster(size: 3, extraArguments: ["--log-format", "json"])
        defer { cluster.stop() }
        try cluster.startAll()
        let client = try cluster.client()
        defer { client.close() }
        let leader = try #require(try cluster.waitForLeader(using: client)?.id)
        _ = cluster.terminate(leader)
        let lines = cluster.ids.flatMap { cluster.log($0).split(separator: "\n") }
        #expect(lines.count >= 6, "\(lines)")
        var messages: [String] = []
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String], "\(line)")
            #expect(object["time"]?.hasSuffix("Z") == true && object["level"] != nil, "\(line)")
            messages.append(object["message"] ?? "")
        }
        #expect(messages.filter { $0 == "tracker starting" }.count == 3, "\(messages)")
        #expect(messages.contains("became leader"), "\(messages)")
    }
}
