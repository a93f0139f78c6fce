import Dispatch
import Foundation

/// SIGINT, SIGTERM and a `quit` line on standard input all ask the event loop to shut down.
/// End of input does not: a tracker started in the background keeps running.
final class ShutdownSignals {
    private let inputs: BlockingQueue<Input>
    private let sources: [any DispatchSourceSignal]

    init(inputs: BlockingQueue<Input>) {
        self.inputs = inputs
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { inputs.push(.shutdown(reason: number == SIGINT ? "SIGINT" : "SIGTERM")) }
            return source
        }
    }

    func start() {
        for source in sources { source.resume() }
        let thread = Thread { [inputs] in
            while let line = readLine() {
                if line.trimmingCharacters(in: .whitespaces) == "quit" {
                    inputs.push(.shutdown(reason: "quit"))
                    return
                }
            }
        }
        thread.name = "stdin"
        thread.start()
    }
}
