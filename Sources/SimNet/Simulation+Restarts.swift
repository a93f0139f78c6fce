extension Simulation {
    /// Starts a clean shutdown of tracker `index`, as tracker-node's: a leader asks Raft to hand
    /// over leadership, then the process exits once it no longer leads, or after a second.
    func startCleanRestart(_ index: Int) {
        guard nodes[index].isUp, !nodes[index].isPaused else { return }
        if nodes[index].box.executor.transferLeadership() { coverage.add("leadership handed over at shutdown") }
        scheduleProcess(index)
        continueCleanExit(index, deadlineMicros: nowMicros + 1_000_000)
    }

    func continueCleanExit(_ index: Int, deadlineMicros: UInt64) {
        guard healedAtMicros == nil else { return } // the heal calls the restart off
        guard nodes[index].host.raft.role != .leader || nowMicros >= deadlineMicros else {
            queue.schedule(.cleanExit(node: index, epoch: nodes[index].epoch, deadlineMicros: deadlineMicros), atMicros: nowMicros + Self.tickMicros)
            return
        }
        coverage.add("clean restart")
        crash(index, isDiskAlreadyCrashed: true) // a process exit: the page cache keeps every write
        if healedAtMicros == nil { scheduleRestart(index) }
    }
}
