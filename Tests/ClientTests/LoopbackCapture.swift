import Foundation
import Synchronization

/// A packet capture of loopback TCP traffic to or from a set of ports, on a raw `AF_PACKET`
/// socket (the way tcpdump captures; needs root or CAP_NET_RAW, which the test host has). The
/// TCP payload of every captured segment is kept, in capture order, so a test can search the
/// wire for bytes that must never appear on it. `stop()` ends the capture thread.
final class LoopbackCapture: Sendable {
    private let descriptor: Int32
    private let ports: Set<UInt16>
    private let payloads = Mutex<[UInt8]>([])
    private let isStopped = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    /// Segments kept so far.
    let segmentCount = Atomic<Int>(0)

    /// Starts capturing segments whose source or destination port is in `ports`.
    init(ports: Set<UInt16>) throws {
        let ethAll = UInt16(0x0003)
        descriptor = socket(AF_PACKET, Int32(SOCK_DGRAM.rawValue), Int32(ethAll.bigEndian))
        guard descriptor >= 0 else { throw CaptureError("AF_PACKET socket: \(String(cString: strerror(errno)))") }
        var bufferBytes: Int32 = 32 << 20
        _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVBUFFORCE, &bufferBytes, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        self.ports = ports
        let thread = Thread { [self] in
            captureLoop()
            finished.signal()
        }
        thread.name = "loopback-capture"
        thread.start()
    }

    private func captureLoop() {
        var packet = [UInt8](repeating: 0, count: 70_000)
        while !isStopped.load(ordering: .relaxed) {
            let count = packet.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { continue }
            guard let payload = Self.tcpPayload(packet[0..<count], ports: ports), !payload.isEmpty else { continue }
            payloads.withLock { $0.append(contentsOf: payload) }
            segmentCount.wrappingAdd(1, ordering: .relaxed)
        }
    }

    /// The TCP payload of an IPv4 packet whose ports meet `ports`; nil for anything else.
    static func tcpPayload(_ packet: ArraySlice<UInt8>, ports: Set<UInt16>) -> ArraySlice<UInt8>? {
        let p = Array(packet)
        guard p.count >= 20, p[0] >> 4 == 4, p[9] == 6 else { return nil }
        let ipHeader = Int(p[0] & 0x0F) * 4
        let total = min(p.count, Int(p[2]) << 8 | Int(p[3]))
        guard total >= ipHeader + 20 else { return nil }
        let source = UInt16(p[ipHeader]) << 8 | UInt16(p[ipHeader + 1])
        let destination = UInt16(p[ipHeader + 2]) << 8 | UInt16(p[ipHeader + 3])
        guard ports.contains(source) || ports.contains(destination) else { return nil }
        let start = ipHeader + Int(p[ipHeader + 12] >> 4) * 4
        guard start <= total else { return nil }
        return p[start..<total]
    }

    /// Stops capturing and returns every kept payload byte, in order.
    func stop() -> [UInt8] {
        isStopped.store(true, ordering: .relaxed)
        finished.wait()
        close(descriptor)
        return payloads.withLock { $0 }
    }
}

struct CaptureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Array where Element == UInt8 {
    /// Whether `needle` occurs in these bytes.
    func containsRun(_ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= count else { return false }
        let first = needle[0]
        var index = 0
        while index <= count - needle.count {
            if self[index] == first, self[index..<(index + needle.count)].elementsEqual(needle) { return true }
            index += 1
        }
        return false
    }

    /// Whether any `windowBytes`-byte run of `file`, taken every `strideBytes`, occurs here:
    /// every run of at least `windowBytes + strideBytes` of the file's bytes contains one.
    func containsAnyRun(of file: [UInt8], windowBytes: Int = 24, strideBytes: Int = 8) -> Bool {
        var windows: [UInt64: [Int]] = [:]
        var offset = 0
        while offset + windowBytes <= file.count {
            windows[Self.word(file, offset), default: []].append(offset)
            offset += strideBytes
        }
        guard count >= windowBytes else { return false }
        for index in 0...(count - windowBytes) {
            guard let starts = windows[Self.word(self, index)] else { continue }
            for start in starts where self[index..<(index + windowBytes)].elementsEqual(file[start..<(start + windowBytes)]) {
                return true
            }
        }
        return false
    }

    private static func word(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in 0..<8 { value = value << 8 | UInt64(bytes[offset + i]) }
        return value
    }
}
