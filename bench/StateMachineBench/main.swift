// Benchmarks the tracker state machine: commands per second on a mixed workload, then the
// snapshot of a large tracker (100,000 users, 10,000 groups, 100,000 files of 64 MiB).
import Foundation
import TestSupport
import TrackerStateMachine

/// A field of /proc/self/status in bytes (VmRSS, VmHWM), or 0 when unavailable.
func procStatusBytes(_ field: String) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
        let kib = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kib * 1_024
    }
    return 0
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func mebibytes(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }

func expectOK(_ result: TrackerResult, _ what: @autoclosure () -> String) {
    guard result.isOK else { fatalError("\(what()) failed: \(result)") }
}

/// A steady-state mix over 5,000 logged-in users in 500 groups of 10: keepalives, uploads
/// (new files and extra sharers), piece announcements, stop_share, join/accept/leave,
/// logout/login, group creation, queries excluded (they do not go through the log).
func makeMixedWorkload(count: Int) -> (setup: [CommandEnvelope], measured: [CommandEnvelope]) {
    let userCount = 5_000, groupCount = 500
    var rng: UInt64 = 2_024
    func random(_ bound: Int) -> Int {
        rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int((rng >> 33) % UInt64(bound))
    }
    var sequence = [UInt64](repeating: 0, count: userCount)
    var tokenNumber = [UInt64](0..<UInt64(userCount))
    var nextToken = UInt64(userCount)
    var now: UInt64 = 1_000
    func envelope(_ user: Int, _ command: TrackerCommand) -> CommandEnvelope {
        sequence[user] += 1
        return CommandEnvelope(clientID: UInt64(user + 1), sequence: sequence[user], command: command)
    }
    func token(_ user: Int) -> TokenHash { RandomWorkload.tokenHash(tokenNumber[user]) }
    var setup: [CommandEnvelope] = []
    for user in 0..<userCount {
        setup.append(envelope(user, .createUser(userID: "u\(user)", salt: [UInt8](repeating: 1, count: 16), passwordHash: [UInt8](repeating: 2, count: 32))))
        setup.append(envelope(user, .openSession(userID: "u\(user)", tokenHash: token(user), peerAddress: "10.0.0.1:\(1_000 + user)", nowMillis: now)))
    }
    for group in 0..<groupCount { setup.append(envelope(group, .createGroup(tokenHash: token(group), groupID: "g\(group)"))) }
    for user in groupCount..<userCount {
        setup.append(envelope(user, .joinGroup(tokenHash: token(user), groupID: "g\(user % groupCount)")))
        setup.append(envelope(user % groupCount, .acceptRequest(tokenHash: token(user % groupCount), groupID: "g\(user % groupCount)", userID: "u\(user)")))
    }
    var measured: [CommandEnvelope] = []
    measured.reserveCapacity(count)
    while measured.count < count {
        if measured.count % 4 == 0 { now += 1 }
        let user = random(userCount)
        let group = "g\(user % groupCount)", file = "f\(random(20))"
        switch random(20) {
        case 0..<6: measured.append(envelope(user, .keepAlive(tokenHash: token(user), nowMillis: now)))
        case 6..<9:
            let variant = (user % groupCount) * 20 + Int(file.dropFirst())!
            measured.append(envelope(user, .uploadFile(tokenHash: token(user), groupID: group,
                                                       metadata: RandomWorkload.metadata(name: file, variant: variant, pieceCount: 128))))
        case 9..<13:
            var bits = [UInt8](repeating: 0, count: 16)
            bits[random(16)] = 0x80
            measured.append(envelope(user, .announcePieces(tokenHash: token(user), groupID: group, fileName: file, pieces: bits)))
        case 13..<15: measured.append(envelope(user, .stopShare(tokenHash: token(user), groupID: group, fileName: file)))
        case 15:
            measured.append(envelope(user, .leaveGroup(tokenHash: token(user), groupID: group)))
            measured.append(envelope(user, .joinGroup(tokenHash: token(user), groupID: group)))
        case 16:
            let owner = user % groupCount
            measured.append(envelope(owner, .acceptRequest(tokenHash: token(owner), groupID: group, userID: "u\(user)")))
        case 17:
            measured.append(envelope(user, .logout(tokenHash: token(user))))
            tokenNumber[user] = nextToken
            nextToken += 1
            measured.append(envelope(user, .openSession(userID: "u\(user)", tokenHash: token(user), peerAddress: "10.0.0.2:\(1_000 + user)", nowMillis: now)))
        case 18: measured.append(envelope(user, .createGroup(tokenHash: token(user), groupID: "extra\(random(1_000))")))
        default: measured.append(CommandEnvelope(clientID: 0, sequence: 0, command: .expireSessions(tokenHashes: [token(random(userCount))], nowMillis: now)))
        }
    }
    return (setup, measured)
}

func runMixedWorkload() {
    let (setup, measured) = makeMixedWorkload(count: 300_000)
    var machine = TrackerStateMachine()
    for envelope in setup { expectOK(machine.apply(envelope), "setup \(envelope)") }
    var okCount = 0
    let clock = ContinuousClock()
    let elapsed = clock.measure {
        for envelope in measured where machine.apply(envelope).isOK { okCount += 1 }
    }
    machine.checkInvariants()
    let rate = Double(measured.count) / seconds(elapsed)
    print("mixed workload: \(measured.count) commands in \(String(format: "%.3f", seconds(elapsed))) s = \(Int(rate)) commands/s"
        + " (\(okCount) succeeded; ends with \(machine.state.sessionCount) sessions, \(machine.state.groupCount) groups, \(machine.state.fileCount) files)")
}

/// 100,000 users all logged in, 10,000 groups of 10 members, 10 files of 64 MiB per group.
func buildLargeTracker() -> TrackerStateMachine {
    let userCount = 100_000, groupCount = 10_000, filesPerGroup = 10, piecesPerFile = 128
    var machine = TrackerStateMachine()
    var sequence: [UInt64] = Array(repeating: 0, count: userCount)
    func run(_ user: Int, _ command: TrackerCommand) {
        sequence[user] += 1
        expectOK(machine.apply(CommandEnvelope(clientID: UInt64(user + 1), sequence: sequence[user], command: command)), "\(command)")
    }
    let salt = [UInt8](repeating: 7, count: 16)
    for user in 0..<userCount {
        let hash = (0..<32).map { UInt8(truncatingIfNeeded: user &* 31 &+ $0) }
        run(user, .createUser(userID: "user\(user)", salt: salt, passwordHash: hash))
        run(user, .openSession(userID: "user\(user)", tokenHash: RandomWorkload.tokenHash(UInt64(user)),
                               peerAddress: "10.\(user / 65_536).\(user / 256 % 256).\(user % 256):6881", nowMillis: 1_000))
    }
    for group in 0..<groupCount { run(group, .createGroup(tokenHash: RandomWorkload.tokenHash(UInt64(group)), groupID: "group\(group)")) }
    for user in groupCount..<userCount {
        let group = user % groupCount
        run(user, .joinGroup(tokenHash: RandomWorkload.tokenHash(UInt64(user)), groupID: "group\(group)"))
        run(group, .acceptRequest(tokenHash: RandomWorkload.tokenHash(UInt64(group)), groupID: "group\(group)", userID: "user\(user)"))
    }
    let rssBeforeFiles = procStatusBytes("VmRSS")
    for group in 0..<groupCount {
        for file in 0..<filesPerGroup {
            let metadata = RandomWorkload.metadata(name: "file\(file).bin", variant: group &* filesPerGroup &+ file, pieceCount: piecesPerFile)
            run(group, .uploadFile(tokenHash: RandomWorkload.tokenHash(UInt64(group)), groupID: "group\(group)", metadata: metadata))
        }
    }
    let fileCount = groupCount * filesPerGroup
    let perFile = (procStatusBytes("VmRSS") - rssBeforeFiles) / fileCount
    print("large tracker: \(machine.state.userCount) users, \(machine.state.sessionCount) sessions, \(machine.state.groupCount) groups,"
        + " \(machine.state.fileCount) files of 64 MiB (128 piece hashes); resident memory per file ≈ \(perFile) bytes")
    return machine
}

func runSnapshotBenchmark() {
    let clock = ContinuousClock()
    var machine: TrackerStateMachine? = nil
    let buildTime = clock.measure { machine = buildLargeTracker() }
    print("built by applying commands in \(String(format: "%.2f", seconds(buildTime))) s; RSS \(mebibytes(procStatusBytes("VmRSS")))")
    var bytes: [UInt8] = []
    let snapshotTime = clock.measure { bytes = machine!.snapshot() }
    print("snapshot: \(bytes.count) bytes (\(mebibytes(bytes.count))) in \(Int(seconds(snapshotTime) * 1_000)) ms")
    machine = nil // keep the peak to one state and one snapshot, plus the restored copy
    var restored: TrackerStateMachine? = nil
    let restoreTime = clock.measure { restored = try? TrackerStateMachine.restore(bytes) }
    guard let restored, restored.snapshot() == bytes else { fatalError("snapshot round trip failed") }
    print("restore (with full validation): \(Int(seconds(restoreTime) * 1_000)) ms; snapshot(restore(s)) == s")
}

if CommandLine.arguments.count == 4, CommandLine.arguments[1] == "--determinism-digest",
   let seed = UInt64(CommandLine.arguments[2]), let count = Int(CommandLine.arguments[3]) {
    print(String(RandomWorkload.replayDigest(seed: seed, commandCount: count), radix: 16))
    exit(0)
}
if CommandLine.arguments.count > 1 {
    FileHandle.standardError.write(Data("usage: state-machine-bench [--determinism-digest SEED COUNT]\n".utf8))
    exit(CommandLine.arguments[1] == "--help" ? 0 : 2)
}
runSnapshotBenchmark()
runMixedWorkload()
print("peak RSS (VmHWM): \(mebibytes(procStatusBytes("VmHWM")))")
