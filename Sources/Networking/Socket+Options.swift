import Glibc

extension Socket {
    /// Sets how long a receive (or an accept on a listener) may block; nil or 0 means forever.
    public func setReceiveTimeout(millis: Int?) throws {
        try setTimeout(option: SO_RCVTIMEO, millis: millis, operation: "set receive timeout")
    }

    /// Sets how long one send call may block without progress; nil or 0 means forever. When it
    /// expires after a partial write, `send(all:)` keeps going with the rest; when nothing at all
    /// could be sent, it throws `SocketError.timedOut` (a stalled peer cannot block a writer forever).
    public func setSendTimeout(millis: Int?) throws {
        try setTimeout(option: SO_SNDTIMEO, millis: millis, operation: "set send timeout")
    }

    private func setTimeout(option: Int32, millis: Int?, operation: String) throws {
        let fd = try liveDescriptor()
        let total = max(0, millis ?? 0)
        var value = timeval(tv_sec: total / 1000, tv_usec: (total % 1000) * 1000)
        guard setsockopt(fd, SOL_SOCKET, option, &value, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
            throw SocketError.system(operation: operation, code: errno)
        }
    }

    /// The current receive timeout in milliseconds; nil when receives may block forever.
    public func receiveTimeoutMillis() throws -> Int? {
        let fd = try liveDescriptor()
        var value = timeval()
        var length = socklen_t(MemoryLayout<timeval>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, &length) == 0 else {
            throw SocketError.system(operation: "get receive timeout", code: errno)
        }
        let millis = value.tv_sec * 1000 + value.tv_usec / 1000
        return millis == 0 ? nil : millis
    }

    /// Waits until a receive would not block (data, EOF or an error is pending), at most
    /// `timeoutMillis` (negative: forever); returns whether the socket became readable.
    public func waitUntilReadable(timeoutMillis: Int) throws -> Bool {
        try poll(events: Int16(POLLIN), timeoutMillis: timeoutMillis)
    }

    /// The local port: after `listen(port: 0)`, the port the kernel chose.
    public var localPort: UInt16 {
        get throws { try localAddress.port }
    }

    /// The local IPv4 address and port.
    public var localAddress: PeerAddress {
        get throws { try socketName(operation: "getsockname", call: getsockname) }
    }

    /// The peer's IPv4 address and port, for logs.
    public var remoteAddress: PeerAddress {
        get throws { try socketName(operation: "getpeername", call: getpeername) }
    }

    /// Resolves `host` to its first IPv4 address (dotted quads need no lookup).
    static func resolveIPv4(host: String, port: UInt16) throws -> sockaddr_in {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0, let first = list, let found = first.pointee.ai_addr else {
            let reason = status == 0 ? "no IPv4 address" : String(cString: gai_strerror(status))
            throw SocketError.unresolvable(host: host, reason: reason)
        }
        defer { freeaddrinfo(list) }
        var address = found.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
        address.sin_port = port.bigEndian
        return address
    }

    /// A new blocking, close-on-exec IPv4 TCP socket.
    static func makeTCPSocket() throws -> Socket {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError.system(operation: "socket", code: errno) }
        return Socket(wrapping: fd)
    }

    /// The descriptor, or `SocketError.closed` once closed.
    func liveDescriptor() throws -> Int32 {
        if isClosed { throw SocketError.closed }
        return descriptor
    }

    /// `poll` for `events`, retrying `EINTR` with the time that is left; false on timeout.
    func poll(events: Int16, timeoutMillis: Int) throws -> Bool {
        let fd = try liveDescriptor()
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(max(0, timeoutMillis))
        var entry = pollfd(fd: fd, events: events, revents: 0)
        for _ in 0..<NetworkingLimits.interruptRetriesMax {
            var waitMillis: Int32 = -1
            if timeoutMillis >= 0 {
                let left = clock.now.duration(to: deadline).components
                let leftMillis = max(0, left.seconds * 1000 + left.attoseconds / 1_000_000_000_000_000)
                waitMillis = Int32(clamping: leftMillis)
            }
            let ready = Glibc.poll(&entry, 1, waitMillis)
            if ready > 0 { return true }
            if ready == 0 { return false }
            let code = errno
            guard code == EINTR else { throw SocketError.system(operation: "poll", code: code) }
        }
        throw SocketError.system(operation: "poll", code: EINTR)
    }

    func setNonBlocking(_ isNonBlocking: Bool) throws {
        let fd = try liveDescriptor()
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0 else { throw SocketError.system(operation: "fcntl", code: errno) }
        let updated = isNonBlocking ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
        guard fcntl(fd, F_SETFL, updated) == 0 else { throw SocketError.system(operation: "fcntl", code: errno) }
    }

    func setNoDelay() throws {
        try setIntOption(level: Int32(IPPROTO_TCP), name: TCP_NODELAY, value: 1)
    }

    func setIntOption(level: Int32, name: Int32, value: Int32) throws {
        let fd = try liveDescriptor()
        var value = value
        guard setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw SocketError.system(operation: "setsockopt", code: errno)
        }
    }

    func intOption(level: Int32, name: Int32) throws -> Int32 {
        let fd = try liveDescriptor()
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, level, name, &value, &length) == 0 else {
            throw SocketError.system(operation: "getsockopt", code: errno)
        }
        return value
    }

    private func socketName(
        operation: String,
        call: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
    ) throws -> PeerAddress {
        let fd = try liveDescriptor()
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let status = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(fd, $0, &length) }
        }
        guard status == 0 else { throw SocketError.system(operation: operation, code: errno) }
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        _ = inet_ntop(AF_INET, &address.sin_addr, &text, socklen_t(text.count))
        let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return PeerAddress(host: host, port: UInt16(bigEndian: address.sin_port))
    }
}
