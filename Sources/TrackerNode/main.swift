import Consensus
import DurableLog
import Foundation
import Hashing
import Networking
import TrackerHosting

// tracker-node: one tracker of the replicated cluster. See Options.usage.

func fail(_ message: String, status: Int32 = 1) -> Never {
    FileHandle.standardError.write(Data("tracker-node: \(message)\n".utf8))
    exit(status)
}

if CommandLine.arguments.dropFirst().first == AdminCommand.word {
    exit(AdminCommand.run(Array(CommandLine.arguments.dropFirst(2))))
}
let options = Options.parse(Array(CommandLine.arguments.dropFirst())).resolve(command: "tracker-node", usage: Options.usage)

Log.configure(.standardError(options.logFormat))
ignoreSIGPIPE()
// Everything this process creates (data directory, log segments, snapshots, the TLS key) is private to it.
umask(0o077)
let cluster: ClusterConfig
// --print-fingerprint runs before the pins exist (scripts write cluster.conf with its output).
do { cluster = try ClusterConfig.load(path: options.confPath, requiringFingerprints: !options.isInsecure && !options.printsFingerprint) } catch {
    fail("\(error)")
}
let ownAddress: PeerAddress
if let joining = options.ownAddress {
    guard cluster.address(of: options.id) == nil else { fail("tracker \(options.id) is in \(options.confPath): start it without --join") }
    ownAddress = joining
} else if let listed = cluster.address(of: options.id) {
    ownAddress = listed
} else if options.printsFingerprint {
    ownAddress = PeerAddress(host: "", port: 0) // not used: the tracker prints and exits
} else {
    fail("\(options.confPath): no tracker with id \(options.id) (ids: \(cluster.ids.map(String.init).joined(separator: ", "))); a tracker not in it starts with --join --address HOST:PORT")
}
let dataDirectory = options.dataDirectory ?? "data/tracker-\(options.id)"
prepareDataDirectory(dataDirectory)
if options.printsFingerprint {
    do { print(try printableFingerprint(dataDirectory: dataDirectory, selfID: options.id)) } catch { fail("\(error)") }
    exit(0)
}
let nodeTLS: NodeTLS?
do {
    nodeTLS = options.isInsecure ? nil : try NodeTLS.load(dataDirectory: dataDirectory, cluster: cluster, selfID: options.id,
                                                          confPath: options.confPath)
} catch {
    fail("\(error)")
}
let security = PeerSecurity(key: loadClusterKey(confPath: options.confPath), authenticator: libcryptoAuthenticator(), tls: nodeTLS)
if let nodeTLS {
    Log.info("tracker identity", ["fingerprint": nodeTLS.identity.fingerprint.description,
                                  "certificate": dataDirectory + "/" + TLSIdentity.certificateFileName])
} else {
    Log.warn("INSECURE MODE (--insecure): plaintext; anyone on the network can read passwords and tokens, and pose as a tracker unless cluster.key is present",
             ["key.present": security.key == nil ? "false" : "true", "key.expected": clusterKeyPath(confPath: options.confPath)])
}
let descriptorLimit = ConnectionLimits.raiseDescriptorLimit()
let admissionLimits: AddressAdmission.Limits
switch ConnectionLimits.admission(descriptorLimit: descriptorLimit, passwordRequestsPerSecond: options.passwordRequestsPerSecond) {
case let .success(limits): admissionLimits = limits
case let .failure(error): fail("\(error)")
}
NetworkingLimits.validate()

let listenSocket: Socket
do { listenSocket = try Socket.listen(host: ownAddress.host, port: ownAddress.port, backlog: ConnectionLimits.listenBacklog) } catch {
    fail("cannot listen on \(ownAddress): \(error)")
}
let metricsSocket: Socket?
do { metricsSocket = try options.metricsAddress.map { try Socket.listen(host: $0.host, port: $0.port) } } catch {
    fail("cannot serve metrics on \(options.metricsAddress.map(\.description) ?? ""): \(error)")
}
let shellCounters = ShellCounters()

let identity: DataIdentity
let isNewIdentity: Bool
do { (identity, isNewIdentity) = try DataIdentity.loadOrCreate(directory: dataDirectory, trackerID: options.id) } catch { fail("\(error)") }
let storage: FileStorage
let persisted: PersistedState
do {
    storage = try FileStorage(directory: dataDirectory, segmentBytesTarget: options.segmentBytes)
    persisted = try storage.load()
} catch {
    fail("cannot open data directory \(dataDirectory): \(error)")
}

let seedConfiguration: Configuration
do { seedConfiguration = options.isJoining ? .empty : try Configuration(cluster.seedMembers) } catch {
    fail("\(options.confPath): \(error)")
}
var raftConfig = RaftConfig(id: options.id, initialConfiguration: seedConfiguration)
raftConfig.incarnation = identity.incarnation
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
                              "log.entries": "\(persisted.entries.count)", "descriptors.max": "\(descriptorLimit)",
                              "connections.max": "\(admissionLimits.connectionsMax)",
                              "incarnation": String(identity.incarnation, radix: 16), "joining": "\(options.isJoining)"])
if isNewIdentity {
    Log.info("new data directory identity: if this tracker was a member before with another directory, the cluster refuses it as that member until it is removed and added back (tracker-node member remove, then member add)",
             ["id": "\(options.id)", "incarnation": String(identity.incarnation, radix: 16), "had.state": "\(persisted.hardState.term > 0 || persisted.snapshot != nil)"])
}

// The event loop's control lane: password and snapshot results, restored snapshots, shutdown.
// Its producers are bounded by construction (the host's password jobs, one snapshot job and one
// restore at a time), far below the capacity, so nothing in it is dropped.
let wake: WakeSignal
do { wake = try WakeSignal() } catch { fail("cannot make the event loop's wake-up: \(error)") }
let inputs = BlockingQueue<Input>(capacity: 1_000_000, wake: wake)
var peerAddresses: [NodeID: PeerAddress] = [:]
for tracker in cluster.trackers where tracker.id != options.id { peerAddresses[tracker.id] = tracker.address }
let peers = PeerLinks(selfID: options.id, security: security, snapshotInlineBytesMax: options.snapshotInlineBytes)
let passwords = PasswordWorker(inputs: inputs)
let restorer = SnapshotRestorer(inputs: inputs, limits: hostOptions.limits)
let connections: ConnectionLoop
do {
    // Accepted connections speak TLS with the tracker's identity (plaintext only with --insecure).
    connections = try ConnectionLoop(listener: listenSocket, wake: wake, selfID: options.id, peerIDs: Set(cluster.ids),
                                     security: security, admission: admissionLimits, counters: shellCounters, restorer: restorer,
                                     tls: nodeTLS?.serverContext)
} catch {
    fail("cannot start the event loop: \(error)")
}
Log.startSuppressionReports()
let signals = ShutdownSignals(inputs: inputs)
signals.start()
passwords.start()
restorer.start()

let snapshotWriter = SnapshotWriter(directory: dataDirectory, inputs: inputs, counters: shellCounters)
snapshotWriter.start()
let server = TrackerServer(host: host, storage: storage, inputs: inputs, peers: peers, connections: connections,
                           passwords: passwords, snapshotWriter: snapshotWriter, tickMillis: options.tickMillis,
                           seedAddresses: peerAddresses)
if let metricsSocket {
    let gauge = connections.gauge
    let store = MetricsStore(shell: shellCounters, clientCount: { gauge.count })
    server.metrics = store
    MetricsServer(socket: metricsSocket, store: store).start()
    Log.info("serving metrics", ["address": options.metricsAddress.map(\.description) ?? "", "path": "/metrics"])
}
exit(server.run())
