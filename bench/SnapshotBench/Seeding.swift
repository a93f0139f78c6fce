import Consensus
import DurableLog
import Foundation
import Hashing
import TestSupport
import TrackerStateMachine

// MARK: - Seeding

struct BenchUser: Sendable {
    var userID: String
    var password: String
}

/// The large state: `users` users (all but the bench users logged in with leases that do not run
/// out during the run, so the state keeps its sessions), `groups` groups with members spread
/// evenly, `filesPerGroup` files of `piecesPerFile` pieces uploaded by each group's owner.
/// Commands go in with client id 0, so the state holds no exactly-once cache of seed clients.
func seedMachine(_ options: Options, benchUsers: [BenchUser]) throws -> TrackerStateMachine {
    var machine = TrackerStateMachine()
    func run(_ command: TrackerCommand) {
        let result = machine.apply(CommandEnvelope(clientID: 0, sequence: 0, command: command))
        guard result.isOK else { fatalError("seeding: \(command) failed: \(result)") }
    }
    let farFuture: UInt64 = 1 << 60 // tracker clocks are milliseconds of CLOCK_MONOTONIC
    let plainUsers = options.users - benchUsers.count
    for user in 0..<plainUsers {
        let randomBytes = try SecureRandom.bytes(count: 48) // a random salt and a dummy hash
        let salt = Array(randomBytes[0..<16])
        let hash = Array(randomBytes[16..<48])
        run(.createUser(userID: "user\(user)", salt: salt, passwordHash: hash))
        run(.openSession(userID: "user\(user)", tokenHash: RandomWorkload.tokenHash(UInt64(user)),
                         peerAddress: "10.\(user / 65_536).\(user / 256 % 256).\(user % 256):6881", nowMillis: farFuture))
    }
    for bench in benchUsers {
        let salt = try PasswordHash.makeSalt()
        run(.createUser(userID: bench.userID, salt: salt, passwordHash: try PasswordHash.derive(password: bench.password, salt: salt)))
    }
    for group in 0..<options.groups {
        run(.createGroup(tokenHash: RandomWorkload.tokenHash(UInt64(group)), groupID: "group\(group)"))
    }
    for user in options.groups..<plainUsers {
        let group = user % options.groups
        run(.joinGroup(tokenHash: RandomWorkload.tokenHash(UInt64(user)), groupID: "group\(group)"))
        run(.acceptRequest(tokenHash: RandomWorkload.tokenHash(UInt64(group)), groupID: "group\(group)", userID: "user\(user)"))
    }
    for group in 0..<options.groups {
        for file in 0..<options.filesPerGroup {
            let metadata = RandomWorkload.metadata(name: "file\(file).bin", variant: group &* options.filesPerGroup &+ file,
                                                   pieceCount: options.piecesPerFile)
            run(.uploadFile(tokenHash: RandomWorkload.tokenHash(UInt64(group)), groupID: "group\(group)", metadata: metadata))
        }
    }
    return machine
}

/// Seeds the three data directories with the same snapshot at `index`, term 1, and a hard
/// state of term 1 that commits it. Returns the snapshot's size in bytes.
func seedDirectories(_ cluster: Cluster, _ options: Options, benchUsers: [BenchUser], index: UInt64) throws -> Int {
    let clock = ContinuousClock()
    var machine: TrackerStateMachine? = nil
    let built = try clock.measure { machine = try seedMachine(options, benchUsers: benchUsers) }
    let state = machine!.state
    note("seeded in-process: \(state.userCount) users, \(state.sessionCount) sessions, \(state.groupCount) groups, \(state.fileCount) files in \(built)")
    var data: [UInt8] = []
    let serialized = clock.measure { data = machine!.snapshot() }
    machine = nil
    emit("seed.snapshot_bytes", Double(data.count), "bytes")
    emit("seed.serialize_in_process", seconds(serialized) * 1_000, "ms")
    let snapshot = Snapshot(meta: SnapshotMeta(index: index, term: 1), data: data)
    for id in cluster.ids {
        let written = try clock.measure {
            let storage = try FileStorage(directory: cluster.dataDirectory(id))
            try storage.saveSnapshot(snapshot)
            try storage.save(hardState: HardState(term: 1, vote: 0, commit: index), entries: [], mustSync: true)
        }
        note("seeded \(cluster.dataDirectory(id)) in \(written)")
    }
    return data.count
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}
