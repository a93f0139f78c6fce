// swift-tools-version:6.2
import PackageDescription

/// Every target compiles in Swift 6 language mode with warnings treated as errors.
let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
    name: "ReplicatedTracker",
    products: [
        .executable(name: "tracker-node", targets: ["TrackerNode"]),
        .executable(name: "client", targets: ["Client"]),
        .executable(name: "tracker-sim", targets: ["TrackerSim"]),
        .executable(name: "consensus-bench", targets: ["ConsensusBench"]),
        .executable(name: "state-machine-bench", targets: ["StateMachineBench"]),
        .executable(name: "download-bench", targets: ["DownloadBench"]),
        .executable(name: "snapshot-bench", targets: ["SnapshotBench"]),
        .executable(name: "tracker-bench", targets: ["TrackerBench"]),
        .executable(name: "failover-bench", targets: ["FailoverBench"]),
    ],
    targets: [
        // The OS's libcrypto (OpenSSL 3): SHA-1, PBKDF2, HMAC, secure random bytes.
        .systemLibrary(
            name: "CLibCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // Linux's epoll and eventfd (not in Glibc's module): the event loops' readiness calls.
        .systemLibrary(name: "CEventPoll", path: "Sources/CEventPoll"),
        // The OS's libssl (OpenSSL 3): TLS 1.3 sessions, X.509 certificates.
        .systemLibrary(
            name: "CLibSSL",
            pkgConfig: "libssl",
            providers: [.apt(["libssl-dev"])]
        ),
        // Swift wrappers over libcrypto.
        .target(name: "Hashing", dependencies: ["CLibCrypto", "BinaryCoding"], swiftSettings: strict),
        // Big-endian fixed-width binary encoding and the CRC32C checksum, shared by the cores,
        // the disk and the wire.
        .target(name: "BinaryCoding", swiftSettings: strict),
        // The process's clocks: monotonic and wall milliseconds and microseconds, and the
        // saturating `elapsed(from:to:)` every duration is measured with.
        .target(name: "SystemClock", swiftSettings: strict),
        // The one logger (level, constant message, key=value fields; text or JSON lines) and the
        // one JSON writer, used by the shells and the benchmarks.
        .target(name: "Logging", dependencies: ["SystemClock"], swiftSettings: strict),
        // The one command-line flag parser of every executable: switches, flags with values,
        // positional arguments, --help; pure (it prints nothing) plus the standard exit handling.
        .target(name: "CommandLineFlags", swiftSettings: strict),
        // The seedable generator (SplitMix64) every pure component draws its randomness from.
        .target(name: "SeededRandom", swiftSettings: strict),
        // Pure Raft: no clock, no randomness of its own, no I/O.
        .target(name: "Consensus", dependencies: ["BinaryCoding", "SeededRandom"], swiftSettings: strict),
        // The file implementation of Consensus's storage protocol: CRC'd log segments, hard state.
        .target(name: "DurableLog", dependencies: ["Consensus", "BinaryCoding"], swiftSettings: strict),
        // Sockets, length-prefixed frames, the peer handshake and cluster.conf parsing, shared by
        // tracker-node and client.
        .target(name: "Networking", dependencies: ["Hashing", "BinaryCoding", "CLibSSL", "CEventPoll"], swiftSettings: strict),
        // Pure tracker domain: users, sessions, groups, files.
        .target(name: "TrackerStateMachine", dependencies: ["BinaryCoding"], swiftSettings: strict),
        // What a client and a tracker say to each other, without I/O and without any part of the
        // server: requests, responses and their codecs, leader discovery and the retry policy.
        // Imported by the client, tracker-node and SimNet alike.
        .target(name: "TrackerProtocol", dependencies: ["TrackerStateMachine", "BinaryCoding", "SeededRandom"], swiftSettings: strict),
        // The tracker server without I/O: the host that drives Raft and the state machine, its
        // executor, and the binding of client requests to log commands. Imported by tracker-node
        // and SimNet, never by a client.
        .target(name: "TrackerHosting", dependencies: ["Consensus", "TrackerStateMachine", "TrackerProtocol", "BinaryCoding"], swiftSettings: strict),
        // A blocking client of the tracker cluster over real TCP: connections, leader discovery,
        // retries with the same request number. Used by client, the benchmarks and the tests.
        .target(name: "TrackerClient", dependencies: ["TrackerProtocol", "Networking", "Hashing", "SystemClock"], swiftSettings: strict),
        // Deterministic simulation of a tracker cluster over a faulty network and disk.
        .target(name: "SimNet", dependencies: ["Consensus", "TrackerStateMachine", "TrackerProtocol", "TrackerHosting", "SeededRandom"], swiftSettings: strict),
        // Test machinery shared by test targets and benchmarks (never by a product's code): the
        // seeded workload of plausible and implausible commands.
        .target(name: "TestSupport", dependencies: ["TrackerStateMachine", "SeededRandom"], path: "Tests/TestSupport", swiftSettings: strict),
        // Process-level test machinery shared by test targets and benchmarks: builds' executables,
        // free ports, temporary folders, tracker clusters and `client --json` processes, every
        // child recorded and killed.
        .target(name: "ProcessHarness", dependencies: ["Networking", "TrackerClient", "TrackerProtocol"], path: "Tests/ProcessHarness", swiftSettings: strict),
        .executableTarget(
            name: "TrackerNode",
            dependencies: ["CommandLineFlags", "Consensus", "DurableLog", "TrackerStateMachine", "TrackerProtocol", "TrackerHosting", "Networking", "Hashing", "Logging", "SystemClock"],
            swiftSettings: strict
        ),
        // The piece protocol, the peer server, file hashing and the parallel downloader, shared
        // by the client, its tests and the download benchmark.
        .target(
            name: "PeerTransfer",
            dependencies: ["TrackerStateMachine", "TrackerProtocol", "TrackerClient", "Networking", "Hashing", "BinaryCoding", "Logging", "SystemClock"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "Client",
            dependencies: ["CommandLineFlags", "PeerTransfer", "TrackerStateMachine", "TrackerProtocol", "TrackerClient", "Networking", "Hashing", "Logging", "SystemClock"],
            swiftSettings: strict
        ),
        .executableTarget(name: "TrackerSim", dependencies: ["CommandLineFlags", "SimNet"], swiftSettings: strict),
        .executableTarget(
            name: "ConsensusBench",
            dependencies: ["CommandLineFlags", "Consensus", "DurableLog", "SystemClock"],
            path: "bench/ConsensusBench",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "StateMachineBench",
            dependencies: ["CommandLineFlags", "TrackerStateMachine", "TestSupport"],
            path: "bench/StateMachineBench",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "DownloadBench",
            dependencies: ["CommandLineFlags", "PeerTransfer", "Networking", "Hashing", "SystemClock", "ProcessHarness"],
            path: "bench/DownloadBench",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "SnapshotBench",
            dependencies: ["CommandLineFlags", "TrackerStateMachine", "TestSupport", "TrackerClient", "TrackerProtocol", "DurableLog", "Consensus", "Networking", "Hashing", "SystemClock", "ProcessHarness"],
            path: "bench/SnapshotBench",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "TrackerBench",
            dependencies: ["CommandLineFlags", "TrackerClient", "TrackerProtocol", "TrackerStateMachine", "Networking", "Hashing", "Logging", "SystemClock", "ProcessHarness"],
            path: "bench/TrackerBench",
            swiftSettings: strict
        ),
        .executableTarget(name: "FailoverBench", dependencies: ["CommandLineFlags", "ProcessHarness", "TrackerClient", "TrackerProtocol"], path: "bench/FailoverBench", swiftSettings: strict),
        .executableTarget(name: "TLSBench", dependencies: ["CommandLineFlags", "Networking", "SystemClock"], path: "bench/TLSBench", swiftSettings: strict),
        .testTarget(name: "ConsensusTests", dependencies: ["Consensus", "SeededRandom", "BinaryCoding"], swiftSettings: strict),
        .testTarget(name: "DurableLogTests", dependencies: ["DurableLog", "Consensus", "SeededRandom", "BinaryCoding"], swiftSettings: strict),
        .testTarget(name: "HashingTests", dependencies: ["Hashing", "BinaryCoding"], swiftSettings: strict),
        .testTarget(name: "TrackerStateMachineTests", dependencies: ["TrackerStateMachine", "TestSupport", "ProcessHarness"], swiftSettings: strict),
        .testTarget(name: "TrackerProtocolTests", dependencies: ["TrackerProtocol", "TrackerStateMachine", "BinaryCoding"], swiftSettings: strict),
        .testTarget(name: "TrackerHostingTests", dependencies: ["TrackerProtocol", "TrackerHosting", "TrackerStateMachine", "Consensus", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "TrackerNodeTests",
            dependencies: ["ProcessHarness", "TrackerNode", "TrackerClient", "TrackerProtocol", "TrackerStateMachine", "Networking", "Consensus", "Hashing"],
            swiftSettings: strict
        ),
        .testTarget(name: "CommandLineFlagsTests", dependencies: ["CommandLineFlags", "ProcessHarness"], swiftSettings: strict),
        .testTarget(name: "ProcessHarnessTests", dependencies: ["ProcessHarness", "Networking"], swiftSettings: strict),
        .testTarget(name: "LoggingTests", dependencies: ["Logging", "SystemClock"], swiftSettings: strict),
        .testTarget(name: "NetworkingTests", dependencies: ["Networking", "Hashing", "CLibSSL"], swiftSettings: strict),
        .testTarget(
            name: "ClientTests",
            dependencies: ["ProcessHarness", "Client", "PeerTransfer", "TrackerClient", "TrackerProtocol", "TrackerStateMachine", "Networking", "Hashing",
                           "DurableLog", "Logging", "SystemClock"],
            swiftSettings: strict
        ),
        // Package.swift's dependencies against every target's imports, and the client binary's
        // symbols against the server's modules (no dependencies: it reads the sources and runs nm).
        .testTarget(name: "PackageTests", swiftSettings: strict),
        .testTarget(name: "SimulationTests", dependencies: ["SimNet", "TrackerProtocol", "TrackerStateMachine", "SeededRandom"], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
