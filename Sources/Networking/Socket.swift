import Glibc
import Synchronization

/// A socket operation that failed, with the errno text where there is one.
public enum SocketError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call failed: the operation (e.g. "connect to 10.0.0.1:7001") and its errno.
    case system(operation: String, code: Int32)
    /// `listen` found the address taken by another socket.
    case addressInUse(host: String, port: UInt16)
    /// A connect, receive, send or accept waited longer than its timeout.
    case timedOut(operation: String)
    /// The host name could not be resolved to an IPv4 address.
    case unresolvable(host: String, reason: String)
    /// The socket was already closed by `close()`.
    case closed

    /// One line, e.g. `address 127.0.0.1:7001 already in use` or `connect to …: Connection refused`.
    public var description: String {
        switch self {
        case .system(let operation, let code): return "\(operation): \(errnoText(code))"
        case .addressInUse(let host, let port): return "address \(host):\(port) already in use"
        case .timedOut(let operation): return "\(operation): timed out"
        case .unresolvable(let host, let reason): return "cannot resolve host '\(host)': \(reason)"
        case .closed: return "socket is closed"
        }
    }
}

/// The text of an errno value.
func errnoText(_ code: Int32) -> String { String(cString: strerror(code)) }

/// Makes writing to a closed socket an `EPIPE` error instead of a process-killing signal.
/// Executables call this once at start (sends also pass `MSG_NOSIGNAL`; this covers the rest).
public func ignoreSIGPIPE() {
    _ = signal(SIGPIPE, SIG_IGN)
}

/// A blocking IPv4 TCP socket owning one file descriptor, closed by `close()` or on deinit.
///
/// Every call retries `EINTR`; sends use `MSG_NOSIGNAL` and loop over partial writes; a receive
/// of 0 bytes means end of stream. Safe to share between threads: to wake a thread blocked in
/// `receive` or `accept`, call `shutdown`; call `close` only once no other thread uses the socket
/// (the kernel may reuse a closed descriptor number at once).
public final class Socket: Sendable {
    /// Which direction(s) `shutdown` ends.
    public enum ShutdownDirection: Sendable {
        /// No more receives.
        case read
        /// No more sends; the peer sees end of stream.
        case write
        /// Both.
        case both
    }

    /// The file descriptor; meaningless once `isClosed`.
    public let descriptor: Int32
    private let closedFlag = Mutex(false)

    init(wrapping descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit { close() }

    /// Whether `close()` has been called.
    public var isClosed: Bool { closedFlag.withLock { $0 } }

    /// Connects to `host:port` (a dotted quad or a resolvable name), waiting at most
    /// `timeoutMillis`; the returned socket is blocking with `TCP_NODELAY` set. With
    /// `localHost`, the socket is first bound to that local IPv4 address (any port), e.g. one of
    /// loopback's 127.0.0.0/8 addresses, so it reaches the peer from that source address.
    public static func connect(host: String, port: UInt16, timeoutMillis: Int, localHost: String? = nil) throws -> Socket {
        var address = try resolveIPv4(host: host, port: port)
        let socket = try makeTCPSocket()
        let operation = "connect to \(host):\(port)"
        if let localHost { try socket.bind(localHost: localHost) }
        try socket.setNonBlocking(true)
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(socket.descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if result != 0 {
            let code = errno
            guard code == EINPROGRESS || code == EINTR else { throw SocketError.system(operation: operation, code: code) }
            guard try socket.poll(events: Int16(POLLOUT), timeoutMillis: timeoutMillis) else {
                throw SocketError.timedOut(operation: operation)
            }
            let pending = try socket.intOption(level: SOL_SOCKET, name: SO_ERROR)
            guard pending == 0 else { throw SocketError.system(operation: operation, code: pending) }
        }
        try socket.setNonBlocking(false)
        try socket.setNoDelay()
        return socket
    }

    /// Listens on `host:port` with `SO_REUSEADDR`; port 0 picks a free port (see `localPort`).
    /// A taken port is `SocketError.addressInUse`.
    public static func listen(
        host: String, port: UInt16, backlog: Int32 = NetworkingLimits.listenBacklog
    ) throws -> Socket {
        var address = try resolveIPv4(host: host, port: port)
        let socket = try makeTCPSocket()
        try socket.setIntOption(level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(socket.descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if bound != 0 {
            let code = errno
            if code == EADDRINUSE { throw SocketError.addressInUse(host: host, port: port) }
            throw SocketError.system(operation: "bind \(host):\(port)", code: code)
        }
        guard Glibc.listen(socket.descriptor, backlog) == 0 else {
            throw SocketError.system(operation: "listen on \(host):\(port)", code: errno)
        }
        return socket
    }

    /// Waits for and returns the next incoming connection (blocking, `TCP_NODELAY` set).
    /// With a receive timeout set on this listener, waiting longer is `SocketError.timedOut`.
    public func accept() throws -> Socket {
        let fd = try liveDescriptor()
        for _ in 0..<NetworkingLimits.interruptRetriesMax {
            let client = Glibc.accept(fd, nil, nil)
            if client >= 0 {
                let socket = Socket(wrapping: client)
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                try socket.setNoDelay()
                return socket
            }
            let code = errno
            if code == EINTR || code == ECONNABORTED { continue }
            if code == EAGAIN || code == EWOULDBLOCK { throw SocketError.timedOut(operation: "accept") }
            throw SocketError.system(operation: "accept", code: code)
        }
        throw SocketError.system(operation: "accept", code: EINTR)
    }

    /// Sends every byte, looping over partial writes and retrying `EINTR`, with `MSG_NOSIGNAL`.
    public func send(all bytes: [UInt8]) throws {
        let fd = try liveDescriptor()
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            var interrupts = 0
            while offset < raw.count {
                let sent = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if sent > 0 {
                    offset += sent
                    interrupts = 0
                    continue
                }
                let code = sent == 0 ? EIO : errno
                if code == EINTR, interrupts < NetworkingLimits.interruptRetriesMax {
                    interrupts += 1
                    continue
                }
                if code == EAGAIN || code == EWOULDBLOCK { throw SocketError.timedOut(operation: "send") }
                throw SocketError.system(operation: "send", code: code)
            }
        }
    }

    /// Receives up to `buffer.count` bytes into `buffer`, returning how many; 0 means the peer
    /// closed its end (EOF). With a receive timeout set, waiting longer is `SocketError.timedOut`.
    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let fd = try liveDescriptor()
        guard buffer.count > 0 else { return 0 }
        for _ in 0..<NetworkingLimits.interruptRetriesMax {
            let count = recv(fd, buffer.baseAddress, buffer.count, 0)
            if count >= 0 { return count }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { throw SocketError.timedOut(operation: "receive") }
            throw SocketError.system(operation: "receive", code: code)
        }
        throw SocketError.system(operation: "receive", code: EINTR)
    }

    /// Receives up to `buffer.count` bytes into the start of `buffer`; 0 means EOF.
    public func receive(into buffer: inout [UInt8]) throws -> Int {
        try buffer.withUnsafeMutableBytes { try receive(into: $0) }
    }

    /// Ends one or both directions; a socket that is not connected is not an error.
    public func shutdown(_ direction: ShutdownDirection = .both) throws {
        let fd = try liveDescriptor()
        let how: Int32
        switch direction {
        case .read: how = Int32(SHUT_RD)
        case .write: how = Int32(SHUT_WR)
        case .both: how = Int32(SHUT_RDWR)
        }
        guard Glibc.shutdown(fd, how) == 0 || errno == ENOTCONN else {
            throw SocketError.system(operation: "shutdown", code: errno)
        }
    }

    /// Closes the descriptor; calling it again does nothing.
    public func close() {
        let wasOpen = closedFlag.withLock { isClosed in
            defer { isClosed = true }
            return !isClosed
        }
        // Never retry close: on Linux the descriptor is released even when close reports EINTR.
        if wasOpen { _ = Glibc.close(descriptor) }
    }
}
