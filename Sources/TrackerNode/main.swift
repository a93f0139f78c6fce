import Consensus
import DurableLog
import Foundation
import Hashing
import Networking
import TrackerService

// tracker-node: one tracker of the replicated cluster. See Options.usage.

func fail(_ message: String, status: Int32 = 1) -> Never {
    FileHandle.standardError.write(Data("tracker-node: \(message)\n".utf8))
    exit(status)
}

let options: Options
switch Options.parse(Array(CommandLine.arguments.dropFirst())) {
case let .run(parsed): options = parsed
case .help:
    print(Options.usage)
    exit(0)
case let .usageError(message):
    FileHandle.standardError.write(Data("tracker-node: \(message)\n\(Options.usage)\n".utf8))
    exit(2)
}

ignoreSIGPIPE()
let cluster: ClusterConfig
do { cluster = try ClusterConfig.load(path: options.confPath) } catch { fail("\(error)") }
guard let ownAddress = cluster.address(of: options.id) else {
    fail("\(options.confPath): no tracker with id \(options.id) (ids: \(cluster.ids.map(String.init).joined(separator: ", ")))")
}
let security = PeerSecurity(key: loadClusterKey(confPath: options.confPath), authenticator: libcryptoAuthenticator())
if security.key == nil {
    Log.warn("no cluster.key beside cluster.conf: peer traffic is unauthenticated", ["conf": options.confPath])
}

let listenSocket: Socket
do { listenSocket = try Socket.listen(host: ownAddress.host, port: ownAddress.port) } catch {
    fail("cannot listen on \(ownAddress): \(error)")
}

let dataDirectory = options.dataDirectory ?? "data/tracker-\(options.id)"
let storage: FileStorage
let persisted: PersistedState
do {
    storage = try FileStorage(directory: dataDirectory, segmentBytesTarget: options.segmentBytes)
    persisted = try storage.load()
} catch {
    fail("cannot open data directory \(dataDirectory): \(error)")
}

var raftConfig = Config(id: options.id, peers: cluster.ids)
raftConfig.heartbeatTicks = Int(options.heartbeatMillis / options.tickMillis)
raftConfig.electionTimeoutTicks = Int(options.electionMillis / options.tickMillis)
raftConfig.randomSeed = (try? SecureRandom.uint64()) ?? UInt64(getpid())
raftConfig.snapshotTimeoutTicks = max(raftConfig.snapshotTimeoutTicks, 10 * raftConfig.electionTimeoutTicks)
var hostOptions = HostOptions()
hostOptions.tickMillis = options.tickMillis
hostOptions.limits.sessionLeaseMillis = options.sessionLeaseMillis
hostOptions.snapshotThresholdEntries = options.snapshotEntries
hostOptions.retainedEntries = min(1_000, options.snapshotEntries / 2)
for tracker in cluster.trackers { hostOptions.addresses[tracker.id] = tracker.address.description }
let host: TrackerHost
do {
    host = try TrackerHost(raftConfig: raftConfig, persisted: persisted, options: hostOptions,
                           hashToken: { TokenHashing.hash($0) })
} catch {
    fail("bad configuration: \(error)")
}

Log.info("tracker starting", ["id": "\(options.id)", "address": "\(ownAddress)", "data": dataDirectory,
                              "raft.term": "\(persisted.hardState.term)", "snapshot.index": "\(persisted.snapshot?.meta.index ?? 0)",
                              "log.entries": "\(persisted.entries.count)"])

let inputs = BlockingQueue<Input>(capacity: 1_000_000)
var peerAddresses: [NodeID: PeerAddress] = [:]
for tracker in cluster.trackers where tracker.id != options.id { peerAddresses[tracker.id] = tracker.address }
let peers = PeerLinks(selfID: options.id, peers: peerAddresses, security: security,
                      snapshotInlineBytesMax: options.snapshotInlineBytes)
let clients = ClientConnections()
let passwords = PasswordWorker(inputs: inputs)
let listener = Listener(socket: listenSocket, selfID: options.id, peerIDs: Set(cluster.ids), security: security,
                        inputs: inputs, clients: clients, limits: hostOptions.limits)
let signals = ShutdownSignals(inputs: inputs)
signals.start()
peers.start()
clients.start()
passwords.start()
listener.start()

let snapshotWriter = SnapshotWriter(directory: dataDirectory, inputs: inputs)
snapshotWriter.start()
let server = TrackerServer(host: host, storage: storage, inputs: inputs, peers: peers, clients: clients,
                           passwords: passwords, snapshotWriter: snapshotWriter, tickMillis: options.tickMillis)
exit(server.run())
