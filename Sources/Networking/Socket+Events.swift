import Glibc

/// What a non-blocking receive found.
public enum ReceiveOutcome: Equatable, Sendable {
    /// This many bytes (at least one) were received.
    case received(Int)
    /// Nothing is waiting now.
    case wouldBlock
    /// The peer closed its end.
    case endOfStream
}

extension Socket {
    /// Makes every later call on this socket non-blocking (for an event loop) or blocking again.
    public func setBlocking(_ isBlocking: Bool) throws {
        try setNonBlocking(!isBlocking)
    }

    /// Accepts the next waiting connection without blocking: nil when none is waiting. The new
    /// socket is non-blocking, close-on-exec, with `TCP_NODELAY`. Call on a non-blocking
    /// listener. Running out of descriptors (`EMFILE`) is a `SocketError.system` error.
    public func acceptAvailable() throws -> Socket? {
        let fd = try liveDescriptor()
        for _ in 0..<NetworkingLimits.interruptRetriesMax {
            let client = Glibc.accept(fd, nil, nil)
            if client >= 0 {
                let socket = Socket(wrapping: client)
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                try socket.setNonBlocking(true)
                try socket.setNoDelay()
                return socket
            }
            let code = errno
            if code == EINTR || code == ECONNABORTED { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return nil }
            throw SocketError.system(operation: "accept", code: code)
        }
        throw SocketError.system(operation: "accept", code: EINTR)
    }

    /// Receives what is waiting, up to `buffer.count` bytes, without blocking.
    public func receiveAvailable(into buffer: UnsafeMutableRawBufferPointer) throws -> ReceiveOutcome {
        let fd = try liveDescriptor()
        guard buffer.count > 0 else { return .wouldBlock }
        for _ in 0..<NetworkingLimits.interruptRetriesMax {
            let count = recv(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT))
            if count > 0 { return .received(count) }
            if count == 0 { return .endOfStream }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return .wouldBlock }
            throw SocketError.system(operation: "receive", code: code)
        }
        throw SocketError.system(operation: "receive", code: EINTR)
    }
}
