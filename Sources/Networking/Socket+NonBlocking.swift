import Glibc

extension Socket {
    /// Sends as many of `bytes` as the kernel takes now, without waiting, with `MSG_NOSIGNAL`;
    /// returns how many (0 when the send buffer is full). The socket's blocking mode is not
    /// changed, so a reader thread may keep blocking on it.
    public func sendAvailable(_ bytes: ArraySlice<UInt8>) throws -> Int {
        let fd = try liveDescriptor()
        guard !bytes.isEmpty else { return 0 }
        return try bytes.withUnsafeBytes { raw in
            for _ in 0..<NetworkingLimits.interruptRetriesMax {
                let sent = Glibc.send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
                if sent >= 0 { return sent }
                let code = errno
                if code == EINTR { continue }
                if code == EAGAIN || code == EWOULDBLOCK { return 0 }
                throw SocketError.system(operation: "send", code: code)
            }
            throw SocketError.system(operation: "send", code: EINTR)
        }
    }

    /// Which of `sockets` could take bytes (or have an error pending) now, waiting at most
    /// `timeoutMillis` for the first; one `poll` for all. A closed socket is reported ready, so
    /// that its next send fails at once.
    public static func writable(_ sockets: [Socket], timeoutMillis: Int) throws -> [Bool] {
        guard !sockets.isEmpty else { return [] }
        var entries = sockets.map { pollfd(fd: $0.isClosed ? -1 : $0.descriptor, events: Int16(POLLOUT), revents: 0) }
        for _ in 0..<NetworkingLimits.interruptRetriesMax {
            let ready = Glibc.poll(&entries, nfds_t(entries.count), Int32(clamping: max(0, timeoutMillis)))
            if ready >= 0 { break }
            guard errno == EINTR else { throw SocketError.system(operation: "poll", code: errno) }
        }
        return zip(sockets, entries).map { socket, entry in socket.isClosed || entry.revents != 0 }
    }

    /// Binds to a local IPv4 address with any port (before `connect`).
    func bind(localHost: String) throws {
        var local = try Socket.resolveIPv4(host: localHost, port: 0)
        let status = withUnsafePointer(to: &local) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard status == 0 else { throw SocketError.system(operation: "bind \(localHost)", code: errno) }
    }
}
