import Foundation
import Networking
import Synchronization

/// The little HTTP/1.1 the metrics endpoint speaks, as pure functions: find the end of a
/// request head, decide the answer from its request line, encode the answer. Every request
/// gets one answer and the connection closes.
enum MetricsHTTP {
    /// The answers the endpoint gives.
    enum Status: Equatable, Sendable {
        case ok, badRequest, notFound, methodNotAllowed, requestTimeout, headTooLarge

        var line: String {
            switch self {
            case .ok: "200 OK"
            case .badRequest: "400 Bad Request"
            case .notFound: "404 Not Found"
            case .methodNotAllowed: "405 Method Not Allowed"
            case .requestTimeout: "408 Request Timeout"
            case .headTooLarge: "431 Request Header Fields Too Large"
            }
        }
    }

    /// What a request head asks for: a status, and whether the body is wanted (not for HEAD).
    struct Route: Equatable, Sendable {
        var status: Status
        var hasBody: Bool
    }

    /// The index just past the blank line that ends a request head (`\r\n\r\n`, or a bare
    /// `\n\n`), or nil while it has not arrived.
    static func headEnd(in bytes: [UInt8]) -> Int? {
        var index = 0
        while index < bytes.count {
            if bytes[index] == 0x0A {
                if index + 1 < bytes.count, bytes[index + 1] == 0x0A { return index + 2 }
                if index + 2 < bytes.count, bytes[index + 1] == 0x0D, bytes[index + 2] == 0x0A { return index + 3 }
            }
            index += 1
        }
        return nil
    }

    /// The answer to a request head: `GET /metrics` (or HEAD, or with a query string) is 200;
    /// another path 404; another method 405; anything that is not `METHOD TARGET HTTP/1.x` 400.
    static func route(head: [UInt8]) -> Route {
        let lineEnd = head.firstIndex(of: 0x0A) ?? head.count
        var line = head[..<lineEnd]
        if line.last == 0x0D { line = line.dropLast() }
        guard line.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return Route(status: .badRequest, hasBody: true) }
        let parts = line.split(separator: 0x20, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1."), parts[1].hasPrefix("/"),
              !parts[0].isEmpty, parts[0].allSatisfy({ $0.isLetter && $0.isUppercase }) else {
            return Route(status: .badRequest, hasBody: true)
        }
        guard parts[0] == "GET" || parts[0] == "HEAD" else { return Route(status: .methodNotAllowed, hasBody: true) }
        let path = parts[1].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        guard path == "/metrics" else { return Route(status: .notFound, hasBody: parts[0] == "GET") }
        return Route(status: .ok, hasBody: parts[0] == "GET")
    }

    /// The bytes of an answer: status line, headers (`Content-Type`, `Content-Length`,
    /// `Connection: close`, and `Allow` for a 405), then the body unless `hasBody` is false.
    static func response(_ status: Status, body: String, hasBody: Bool = true) -> [UInt8] {
        let bodyBytes = Array(body.utf8)
        var head = "HTTP/1.1 \(status.line)\r\n"
        head += "Content-Type: \(status == .ok ? PrometheusText.contentType : "text/plain; charset=utf-8")\r\n"
        head += "Content-Length: \(bodyBytes.count)\r\n"
        if status == .methodNotAllowed { head += "Allow: GET, HEAD\r\n" }
        head += "Connection: close\r\n\r\n"
        return Array(head.utf8) + (hasBody ? bodyBytes : [])
    }

    /// The answer to `head`, rendering the metrics only when they are asked for.
    static func answer(head: [UInt8], metrics: () -> String) -> [UInt8] {
        let route = route(head: head)
        let body = route.status == .ok ? metrics() : route.status.line + "\n"
        return response(route.status, body: body, hasBody: route.hasBody)
    }
}

/// `GET /metrics` over HTTP/1.1 on a socket of its own, for `--metrics-address`. One thread
/// accepts; each connection (at most `MetricsLimits.connectionsMax` at once, more are closed
/// at once) gets a thread that reads the request head within its deadline and size bound,
/// answers once and closes. It only reads what the event loop published: it never blocks it.
final class MetricsServer: Sendable {
    private let socket: Socket
    private let store: MetricsStore
    private let active = Atomic<Int>(0)

    init(socket: Socket, store: MetricsStore) {
        self.socket = socket
        self.store = store
    }

    func start() {
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "metrics"
        thread.start()
    }

    private func acceptLoop() {
        while true {
            let connection: Socket
            do {
                connection = try socket.accept()
            } catch {
                Log.warnLimited("metrics accept failed", ["error": "\(error)"])
                usleep(UInt32(ConnectionLimits.acceptRetryMillis * 1_000))
                continue
            }
            guard active.add(1, ordering: .relaxed).newValue <= MetricsLimits.connectionsMax else {
                active.subtract(1, ordering: .relaxed)
                connection.close()
                continue
            }
            let thread = Thread { [self] in
                serve(connection)
                connection.close()
                active.subtract(1, ordering: .relaxed)
            }
            thread.name = "metrics-connection"
            thread.start()
        }
    }

    private func serve(_ connection: Socket) {
        try? connection.setSendTimeout(millis: MetricsLimits.sendTimeoutMillis)
        let answer: [UInt8]
        switch readHead(connection) {
        case let .head(head): answer = MetricsHTTP.answer(head: head, metrics: store.render)
        case let .refused(status): answer = MetricsHTTP.response(status, body: status.line + "\n")
        case .closed: return
        }
        try? connection.send(all: answer)
        try? connection.shutdown(.write)
        drainBeforeClose(connection)
    }

    /// Reads and drops what the client still sends (a head cut at the bound), for a moment
    /// and a few bytes at most, so that closing does not reset the connection before the
    /// client has read the answer.
    private func drainBeforeClose(_ connection: Socket) {
        let deadline = monotonicMillis() + UInt64(MetricsLimits.lingerMillis)
        var chunk = [UInt8](repeating: 0, count: 2_048)
        var drained = 0
        while drained < MetricsLimits.lingerBytesMax {
            let now = monotonicMillis()
            guard now < deadline, (try? connection.waitUntilReadable(timeoutMillis: Int(deadline - now))) == true,
                  let count = try? connection.receive(into: &chunk), count > 0 else { return }
            drained += count
        }
    }

    /// How reading a request head ended.
    private enum HeadRead {
        /// The whole head arrived.
        case head([UInt8])
        /// Too large or too slow: answer with this status.
        case refused(MetricsHTTP.Status)
        /// The connection ended first.
        case closed
    }

    private func readHead(_ connection: Socket) -> HeadRead {
        let deadline = monotonicMillis() + UInt64(MetricsLimits.readDeadlineMillis)
        var head: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 2_048)
        while true {
            let now = monotonicMillis()
            guard now < deadline else { return .refused(.requestTimeout) }
            guard (try? connection.waitUntilReadable(timeoutMillis: Int(deadline - now))) == true else {
                return .refused(.requestTimeout)
            }
            guard let count = try? connection.receive(into: &chunk), count > 0 else { return .closed }
            head.append(contentsOf: chunk[0..<count])
            if let end = MetricsHTTP.headEnd(in: head) { return .head(Array(head[0..<end])) }
            guard head.count < MetricsLimits.requestHeadBytesMax else { return .refused(.headTooLarge) }
        }
    }
}
