/// The Prometheus text exposition format, version 0.0.4, as a pure function of values: no
/// clock, no I/O. Families come out in the order given, samples in the order given, labels in
/// the order given: nothing here iterates a dictionary.

/// What a metric family is, for its `# TYPE` line.
enum MetricKind: String, Sendable {
    case counter, gauge, histogram
}

/// A cumulative-bucket histogram of observed values (e.g. seconds), with fixed upper bounds.
struct Histogram: Equatable, Sendable {
    /// Upper bounds, ascending; an observation `v` falls in the first bucket with `v <= bound`.
    let bounds: [Double]
    /// Observations per bucket (not cumulative); those above every bound are counted only in
    /// `count` (the `+Inf` bucket).
    private(set) var bucketCounts: [UInt64]
    /// Every observation.
    private(set) var count: UInt64 = 0
    /// Sum of the observations.
    private(set) var sum: Double = 0

    /// An empty histogram; `bounds` are sorted and de-duplicated, non-finite ones dropped.
    init(bounds: [Double]) {
        var sorted: [Double] = []
        for bound in bounds.filter(\.isFinite).sorted() where sorted.last != bound { sorted.append(bound) }
        self.bounds = sorted
        bucketCounts = [UInt64](repeating: 0, count: sorted.count)
    }

    /// Counts one observation. A NaN is dropped (it belongs to no bucket); counts wrap rather
    /// than trap after 2^64 observations.
    mutating func observe(_ value: Double) {
        guard !value.isNaN else { return }
        count &+= 1
        sum += value
        if let slot = bounds.firstIndex(where: { value <= $0 }) { bucketCounts[slot] &+= 1 }
    }

    /// `(upper bound, observations at or below it)` for each bound, then `+Inf` with every one.
    var cumulativeBuckets: [(bound: Double, count: UInt64)] {
        var running: UInt64 = 0
        var out: [(bound: Double, count: UInt64)] = []
        for (bound, slot) in zip(bounds, bucketCounts) {
            running &+= slot
            out.append((bound, running))
        }
        out.append((.infinity, count))
        return out
    }
}

/// One sample's value.
enum MetricValue: Equatable, Sendable {
    /// A whole number (counters, indexes, sizes): printed in full, never through a Double.
    case integer(UInt64)
    /// A real number.
    case real(Double)
    /// A histogram: `_bucket`, `_sum` and `_count` lines.
    case histogram(Histogram)
}

/// One series of a family: its labels in order, and its value.
struct MetricSample: Equatable, Sendable {
    var labels: [(name: String, value: String)]
    var value: MetricValue

    init(labels: [(name: String, value: String)] = [], _ value: MetricValue) {
        self.labels = labels
        self.value = value
    }

    static func == (lhs: MetricSample, rhs: MetricSample) -> Bool {
        lhs.labels.map(\.name) == rhs.labels.map(\.name) && lhs.labels.map(\.value) == rhs.labels.map(\.value) && lhs.value == rhs.value
    }
}

/// A metric family: name, help text, kind, and its samples.
struct MetricFamily: Equatable, Sendable {
    var name: String
    var help: String
    var kind: MetricKind
    var samples: [MetricSample]
}

/// Renders families as Prometheus text.
enum PrometheusText {
    /// The `Content-Type` of what `render` makes.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// `# HELP`, `# TYPE` and one line per sample for each family, in order. A family without
    /// samples is left out entirely.
    static func render(_ families: [MetricFamily]) -> String {
        var out = ""
        for family in families where !family.samples.isEmpty {
            out += "# HELP \(family.name) \(escapeHelp(family.help))\n"
            out += "# TYPE \(family.name) \(family.kind.rawValue)\n"
            for sample in family.samples { out += lines(of: sample, in: family.name) }
        }
        return out
    }

    private static func lines(of sample: MetricSample, in name: String) -> String {
        switch sample.value {
        case let .integer(value): return "\(name)\(labelText(sample.labels)) \(value)\n"
        case let .real(value): return "\(name)\(labelText(sample.labels)) \(number(value))\n"
        case let .histogram(histogram):
            var out = ""
            for bucket in histogram.cumulativeBuckets {
                out += "\(name)_bucket\(labelText(sample.labels + [("le", number(bucket.bound))])) \(bucket.count)\n"
            }
            out += "\(name)_sum\(labelText(sample.labels)) \(number(histogram.sum))\n"
            out += "\(name)_count\(labelText(sample.labels)) \(histogram.count)\n"
            return out
        }
    }

    /// `{a="x",b="y"}`, or nothing without labels.
    static func labelText(_ labels: [(name: String, value: String)]) -> String {
        guard !labels.isEmpty else { return "" }
        return "{" + labels.map { "\($0.name)=\"\(escapeLabelValue($0.value))\"" }.joined(separator: ",") + "}"
    }

    /// A label value: backslash, double quote and line feed escaped, as the format requires.
    static func escapeLabelValue(_ text: String) -> String {
        var out = ""
        for character in text.unicodeScalars {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// Help text: backslash and line feed escaped.
    static func escapeHelp(_ text: String) -> String {
        text.replacingAll("\\", with: "\\\\").replacingAll("\n", with: "\\n")
    }

    /// A float as the format spells it: `+Inf`, `-Inf`, `NaN`, whole numbers without a
    /// fraction, others in Swift's shortest round-tripping form (e.g. `0.0025`, `1e-05`).
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value == .infinity { return "+Inf" }
        if value == -.infinity { return "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}

extension String {
    /// Every occurrence of `target` replaced by `replacement` (no Foundation needed).
    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
