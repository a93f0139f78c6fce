/// The event trace of a run: every event folds into a running FNV-1a 64 hash (a fingerprint,
/// not cryptography), and when a sink is set each event is also written as one readable line.
/// Two runs of one seed must end with the same hash.
public struct Trace: Sendable {
    static let fnvOffset: UInt64 = 0xCBF2_9CE4_8422_2325
    static let fnvPrime: UInt64 = 0x0000_0100_0000_01B3

    /// The hash of every event so far.
    public private(set) var hash: UInt64 = fnvOffset
    /// Events recorded so far.
    public private(set) var eventCount: UInt64 = 0
    /// Where readable lines go, when tracing is on.
    let sink: (@Sendable (String) -> Void)?

    init(sink: (@Sendable (String) -> Void)?) { self.sink = sink }

    /// Whether lines are being written (callers skip building text otherwise).
    var isPrinting: Bool { sink != nil }

    private mutating func mix(_ value: UInt64) {
        var v = value
        for _ in 0..<8 {
            hash = (hash ^ (v & 0xFF)) &* Self.fnvPrime
            v >>= 8
        }
    }

    /// Records one event: a code and up to four numbers make its identity; `text` is built only
    /// when printing and must say the same thing in words.
    mutating func record(_ timeMicros: UInt64, _ code: UInt64, _ a: UInt64 = 0, _ b: UInt64 = 0,
                         _ c: UInt64 = 0, _ d: UInt64 = 0, _ text: @autoclosure () -> String) {
        eventCount += 1
        mix(timeMicros)
        mix(code)
        mix(a)
        mix(b)
        mix(c)
        mix(d)
        if let sink {
            let millis = timeMicros / 1_000
            let fraction = timeMicros % 1_000
            let pad = fraction < 10 ? "00" : (fraction < 100 ? "0" : "")
            sink("\(millis).\(pad)\(fraction)ms \(text())")
        }
    }

    /// FNV-1a 64 of some bytes (a fingerprint for comparing entry payloads, not cryptography).
    static func fingerprint(_ bytes: [UInt8]) -> UInt64 {
        var h = fnvOffset
        for byte in bytes { h = (h ^ UInt64(byte)) &* fnvPrime }
        return h
    }
}
