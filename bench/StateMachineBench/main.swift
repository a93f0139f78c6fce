import Foundation
import TrackerStateMachine

if CommandLine.arguments.count == 4, CommandLine.arguments[1] == "--determinism-digest",
   let seed = UInt64(CommandLine.arguments[2]), let count = Int(CommandLine.arguments[3]) {
    print(String(RandomWorkload.replayDigest(seed: seed, commandCount: count), radix: 16))
    exit(0)
}
print("bench todo")
