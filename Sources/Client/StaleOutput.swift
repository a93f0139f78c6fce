import TrackerProtocol

extension CommandAnswer {
    /// The answer, marked when a tracker without a leader gave it from its applied state: a
    /// last line saying so, and `"possibly_stale": true` with the tracker and its applied index
    /// in `--json`. Unchanged for a leader's answer.
    func markedStale(_ mark: StaleMark?) -> CommandAnswer {
        guard isOK, let mark else { return self }
        var marked = self
        marked.lines.append("(possibly stale: no tracker leader reachable; answered by tracker \(mark.tracker) "
                            + "from its state at log index \(mark.appliedIndex))")
        marked.fields += [("possibly_stale", .bool(true)), ("stale_tracker", .unsigned(mark.tracker)),
                          ("stale_applied_index", .unsigned(mark.appliedIndex))]
        return marked
    }
}
