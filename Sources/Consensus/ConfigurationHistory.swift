/// The configurations a log holds: the one in force at the compaction point (the snapshot's,
/// or the initial one) and each configuration entry after it. The current configuration is the
/// last of them, committed or not (dissertation §4.1: a server uses the latest configuration in
/// its log); when a suffix of the log is replaced, its configurations go with it.
struct ConfigurationHistory: Sendable {
    struct Change: Sendable, Equatable {
        var index: UInt64
        var configuration: Configuration
    }

    /// The configuration in force at the compaction point.
    private(set) var base: Configuration
    /// Configuration entries after the compaction point, ascending by index.
    private(set) var changes: [Change] = []

    init(base: Configuration) { self.base = base }

    /// The latest configuration in the log.
    var current: Configuration { changes.last?.configuration ?? base }

    /// The index of the latest configuration entry after the compaction point, or 0.
    var lastChangeIndex: UInt64 { changes.last?.index ?? 0 }

    /// The configuration in force at `index` (at or after the compaction point).
    func configuration(at index: UInt64) -> Configuration {
        changes.last { $0.index <= index }?.configuration ?? base
    }

    /// Records the configuration entries among `entries` (which continue the log).
    mutating func append(_ entries: some Sequence<Entry>) {
        for entry in entries where entry.kind == .configuration {
            // Entries reach the log only after validation (MessageValidation, PersistedState
            // or the leader's own proposal): their configurations decode.
            guard let configuration = try? Configuration(decoding: entry.data) else {
                preconditionFailure("configuration entry \(entry.index) does not decode")
            }
            changes.append(Change(index: entry.index, configuration: configuration))
        }
    }

    /// Forgets the configuration entries at or after `index` (that suffix of the log is replaced).
    mutating func truncate(from index: UInt64) {
        changes.removeAll { $0.index >= index }
    }

    /// The entries through `index` left the log: the configuration in force there becomes the base.
    mutating func compact(through index: UInt64) {
        base = configuration(at: index)
        changes.removeAll { $0.index <= index }
    }

    /// The log was replaced by a snapshot whose configuration is `configuration`.
    mutating func restore(_ configuration: Configuration) {
        base = configuration
        changes = []
    }
}
