import Glibc

/// The libFuzzer target: the first byte of an input picks what the rest attacks.
///   0: every decoder, on the raw bytes          1: every decoder, behind valid checksums
///   2-4: a Raft node in some role, driven by hostile messages, answers, ticks and proposals
///   5: a Raft node in some role, fed the bytes as length-prefixed frames through the codec
///   6-7: a tracker host in some role, driven by hostile messages (commands in entries,
///        real and broken snapshots)
/// Any trap (precondition, overflow, bounds, broken invariant) is a finding.
enum Fuzz {
    static let raftFixtures = RoleFixtures.make().map(\.node)
    static let host = HostFixtures.make()

    static func run(_ input: [UInt8]) {
        guard let mode = input.first else { return }
        let rest = Array(input.dropFirst())
        switch mode % 8 {
        case 0: DecoderTargets.run(rest)
        case 1: DecoderTargets.runSealed(rest)
        case 2, 3, 4: driveRaft(rest)
        case 5: stepFrames(rest)
        default: driveHost(rest)
        }
    }

    static func driveRaft(_ bytes: [UInt8]) {
        var choices = ByteChoices(bytes)
        var driver = HostileDriver(node: raftFixtures[choices.below(raftFixtures.count)])
        while !choices.isExhausted { driver.act(using: &choices) }
    }

    static func stepFrames(_ bytes: [UInt8]) {
        guard let fixture = bytes.first else { return }
        var driver = HostileDriver(node: raftFixtures[Int(fixture) % raftFixtures.count])
        var offset = 1
        while offset + 2 <= bytes.count {
            let count = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
            let end = min(offset + 2 + count, bytes.count)
            driver.stepFrame(Array(bytes[(offset + 2)..<end]))
            offset = end
        }
    }

    static func driveHost(_ bytes: [UInt8]) {
        var choices = ByteChoices(bytes)
        let generator = HostileMessages(payloads: host.payloads, snapshotPayloads: host.snapshots)
        var driver = HostDriver(host: host.hosts[choices.below(host.hosts.count)], generator: generator)
        while !choices.isExhausted { driver.act(using: &choices) }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    Fuzz.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    _ = Fuzz.raftFixtures.count // build the fixtures once, before the clock starts
    _ = Fuzz.host.hosts.count
    if let directory = getenv("FUZZ_SEED_DIR") { Seeds.write(to: String(cString: directory)) }
    return 0
}
