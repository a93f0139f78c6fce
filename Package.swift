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
    ],
    targets: [
        // The OS's libcrypto (OpenSSL 3): SHA-1, PBKDF2, HMAC, secure random bytes.
        .systemLibrary(
            name: "CLibCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
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
        // Pure Raft: no clock, no randomness of its own, no I/O.
        .target(name: "Consensus", dependencies: ["BinaryCoding"], swiftSettings: strict),
        // The file implementation of Consensus's storage protocol: CRC'd log segments, hard state.
        .target(name: "DurableLog", dependencies: ["Consensus", "BinaryCoding", "Hashing"], swiftSettings: strict),
        // Sockets, length-prefixed frames, the peer handshake and cluster.conf parsing, shared by
        // tracker-node and client.
        .target(name: "Networking", dependencies: ["Hashing", "BinaryCoding", "CLibSSL"], swiftSettings: strict),
        // Pure tracker domain: users, sessions, groups, files.
        .target(name: "TrackerStateMachine", dependencies: ["BinaryCoding"], swiftSettings: strict),
        // The tracker service without I/O: client wire protocol, leader discovery and retry, and
        // the host that drives Raft and the state machine for tracker-node and SimNet alike.
        .target(name: "TrackerService", dependencies: ["Consensus", "TrackerStateMachine", "BinaryCoding"], swiftSettings: strict),
        // A blocking client of the tracker cluster over real TCP: connections, leader discovery,
        // retries with the same request number. Used by client, the benchmarks and the tests.
        .target(name: "TrackerClient", dependencies: ["TrackerService", "Networking", "Consensus", "Hashing"], swiftSettings: strict),
        // Deterministic simulation of a tracker cluster over a faulty network and disk.
        .target(name: "SimNet", dependencies: ["Consensus", "TrackerStateMachine", "TrackerService", "BinaryCoding"], swiftSettings: strict),
        .executableTarget(
            name: "TrackerNode",
            dependencies: ["Consensus", "DurableLog", "TrackerStateMachine", "TrackerService", "Networking", "Hashing", "BinaryCoding"],
            swiftSettings: strict
        ),
        // The piece protocol, the peer server, file hashing and the parallel downloader, shared
        // by the client, its tests and the download benchmark.
        .target(
            name: "PeerTransfer",
            dependencies: ["TrackerStateMachine", "TrackerService", "TrackerClient", "Networking", "Hashing", "BinaryCoding"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "Client",
            dependencies: ["PeerTransfer", "TrackerStateMachine", "TrackerService", "TrackerClient", "Networking", "Hashing", "BinaryCoding"],
            swiftSettings: strict
        ),
        .executableTarget(name: "TrackerSim", dependencies: ["SimNet"], swiftSettings: strict),
        .executableTarget(
            name: "ConsensusBench",
            dependencies: ["Consensus", "DurableLog"],
            path: "bench/ConsensusBench",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "StateMachineBench",
            dependencies: ["TrackerStateMachine"],
            path: "bench/StateMachineBench",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "DownloadBench",
            dependencies: ["PeerTransfer", "Networking", "Hashing"],
            path: "bench/DownloadBench",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "SnapshotBench",
            dependencies: ["TrackerStateMachine", "TrackerClient", "TrackerService", "DurableLog", "Consensus", "Networking", "Hashing"],
            path: "bench/SnapshotBench",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "TrackerBench",
            dependencies: ["TrackerClient", "TrackerService", "TrackerStateMachine", "Networking", "Consensus"],
            path: "bench/TrackerBench",
            swiftSettings: strict
        ),
        .executableTarget(name: "TLSBench", dependencies: ["Networking"], path: "bench/TLSBench", swiftSettings: strict),
        .testTarget(name: "ConsensusTests", dependencies: ["Consensus"], swiftSettings: strict),
        .testTarget(name: "DurableLogTests", dependencies: ["DurableLog", "Consensus"], swiftSettings: strict),
        .testTarget(name: "HashingTests", dependencies: ["Hashing", "BinaryCoding"], swiftSettings: strict),
        .testTarget(name: "TrackerStateMachineTests", dependencies: ["TrackerStateMachine"], swiftSettings: strict),
        .testTarget(name: "TrackerServiceTests", dependencies: ["TrackerService", "TrackerStateMachine", "Consensus"], swiftSettings: strict),
        .testTarget(
            name: "TrackerNodeTests",
            dependencies: ["TrackerClient", "TrackerService", "TrackerStateMachine", "Networking", "Consensus", "Hashing"],
            swiftSettings: strict
        ),
        .testTarget(name: "NetworkingTests", dependencies: ["Networking", "Hashing", "CLibSSL"], swiftSettings: strict),
        .testTarget(
            name: "ClientTests",
            dependencies: ["PeerTransfer", "TrackerClient", "TrackerService", "TrackerStateMachine", "Networking", "Hashing", "Consensus"],
            swiftSettings: strict
        ),
        .testTarget(name: "SimulationTests", dependencies: ["SimNet", "Consensus", "TrackerService", "TrackerStateMachine"], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
