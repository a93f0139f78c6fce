import Foundation
import Logging
import Networking

// client <IP>:<PORT> cluster.conf [--json] [--state-dir DIR]: see Options.usage.
ignoreSIGPIPE()

let options = Options.parse(Array(CommandLine.arguments.dropFirst())).resolve(command: "client", usage: Options.usage)

/// Ends the process without running exit-time destructors, which race with the peer server's,
/// the downloads' and libdispatch's threads; all output was written with unbuffered writes and
/// the state directory is fsynced when it changes, so nothing is lost.
func terminateProcess(_ status: Int32) -> Never { _exit(status) }

let app: ClientApp
do {
    app = try ClientApp(options: options)
    try app.startServer()
} catch {
    Log.writeStandardError("client: \(error)\n")
    exit(1)
}

// SIGINT and SIGTERM: log out, stop serving, exit (unfinished downloads stay resumable).
var signalSources: [DispatchSourceSignal] = []
for signalNumber in [SIGINT, SIGTERM] {
    signal(signalNumber, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
    source.setEventHandler {
        app.console.restoreTerminal()
        app.shutdown()
        terminateProcess(0)
    }
    source.resume()
    signalSources.append(source)
}

// The prompt, line editing, progress and background events: see Console.
while true {
    guard let line = app.console.readLine() else { break }
    guard line.utf8.count <= ClientLimits.commandLineBytesMax else {
        app.console.write(CommandAnswer.failure("command line too long").rendered(command: "", json: options.isJSON))
        continue
    }
    let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
    guard let name = words.first else { continue }
    let reply = app.execute(words)
    app.console.write(reply.rendered(command: name, json: options.isJSON))
    if name == "quit" && reply.isOK && words.count == 1 {
        app.shutdown()
        terminateProcess(0)
    }
}
// End of input: let running downloads finish, then log out.
app.waitForDownloads()
app.shutdown()
terminateProcess(0)
