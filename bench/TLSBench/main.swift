import Foundation
import Glibc
import Networking
import Synchronization

// tls-bench: one loopback TCP connection in this process, a sender thread writing 512 KiB
// frames through FramedConnection and a receiver thread reading them, first in plaintext, then
// over TLS 1.3 with each cipher suite. Prints MB/s (wall clock) and CPU seconds per GiB of
// payload for each end (the sender seals and sends, the receiver receives and
// opens; CLOCK_THREAD_CPUTIME_ID), then TLS handshakes per second over loopback (Ed25519, X25519).
// usage: TLSBench [--mib N] [--runs N] [--handshakes N] [--suites "A B"]
let usage = "usage: TLSBench [--mib N] [--runs N] [--handshakes N] [--suites \"SUITE ...\"]"
ignoreSIGPIPE()
var settings: [String: String] = [
    "--mib": "2048", "--runs": "3", "--handshakes": "300",
    "--suites": "TLS_AES_128_GCM_SHA256 TLS_CHACHA20_POLY1305_SHA256 TLS_AES_256_GCM_SHA384",
]
var argumentIndex = 1
while argumentIndex + 1 < CommandLine.arguments.count {
    settings[CommandLine.arguments[argumentIndex]] = CommandLine.arguments[argumentIndex + 1]
    argumentIndex += 2
}
guard let mib = Int(settings["--mib"]!), let runs = Int(settings["--runs"]!), let handshakes = Int(settings["--handshakes"]!),
      mib > 0, runs > 0, handshakes >= 0 else {
    print(usage)
    exit(2)
}
let suites = settings["--suites"]!.split(separator: " ").map(String.init)
let frameCount = mib * 1024 * 1024 / frameBytes

/// Prints a line at once (standard output may be a pipe).
@Sendable func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

func run() throws {
    TLSLimits.validate()
    let identities = Identities(server: try .makeEphemeral(commonName: "bench-server"), client: try .makeEphemeral(commonName: "bench-client"))
    let gib = Double(frameCount * frameBytes) / Double(1 << 30)
    say("# \(frameCount) frames of 512 KiB (\(frameCount * frameBytes / (1 << 20)) MiB) per run, \(runs) runs, median shown")
    say("# load average before: \((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?")")
    say("mode                              MB/s   sender-cpu-s/GiB  receiver-cpu-s/GiB  vs-plaintext")
    var plaintextRate = 0.0
    for suite in [nil] + suites.map(Optional.some) {
        var results: [Measurement] = []
        var cipher = ""
        for _ in 0..<runs {
            let (result, negotiated) = try measure(suite: suite, identities: identities, frameCount: frameCount)
            results.append(result)
            cipher = negotiated
        }
        let median = results.sorted { $0.seconds < $1.seconds }[results.count / 2]
        let rate = Double(frameCount * frameBytes) / median.seconds / 1e6
        if suite == nil { plaintextRate = rate }
        let ratio = plaintextRate > 0 ? String(format: "%5.1f %%", 100 * rate / plaintextRate) : "-"
        let name = cipher.padding(toLength: max(30, cipher.count), withPad: " ", startingAt: 0)
        say(name + String(format: " %7.0f   %16.3f  %18.3f  ", rate, median.senderCPU / gib, median.receiverCPU / gib) + ratio)
    }
    say(String(format: "handshakes/s (mutual, pinned, sequential over loopback): %.0f", try handshakeRate(identities: identities, count: handshakes)))
}

do {
    try run()
} catch {
    FileHandle.standardError.write(Data("TLSBench: \(error)\n".utf8))
    exit(1)
}
