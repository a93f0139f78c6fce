import CEventPoll
import Glibc

/// What a descriptor is ready for, or asked to be watched for.
public struct PollEvents: OptionSet, Sendable, Hashable {
    /// The epoll bits.
    public let rawValue: UInt32
    /// Makes a set from epoll bits.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// A receive (or accept) would not block: bytes, EOF or an error are waiting.
    public static let readable = PollEvents(rawValue: EPOLLIN.rawValue)
    /// A send would take bytes now.
    public static let writable = PollEvents(rawValue: EPOLLOUT.rawValue)
    /// The peer hung up or the socket has an error (always reported, never asked for).
    public static let failed = PollEvents(rawValue: EPOLLHUP.rawValue | EPOLLERR.rawValue)
}

/// One ready descriptor, named by the token it was registered with.
public struct PollEvent: Sendable, Equatable {
    /// The caller's token (e.g. a connection number that is never reused).
    public var token: UInt64
    /// What it is ready for.
    public var events: PollEvents
}

/// A level-triggered epoll set, owned by one thread (the event loop that waits on it). Each
/// descriptor is registered under a token of the caller's choosing, so a descriptor number the
/// kernel reuses after a close can never be mistaken for the connection it used to be.
/// Every call retries `EINTR`.
public final class EventPoll {
    private let descriptor: Int32
    private var ready: [epoll_event]

    /// A new epoll set reporting at most `eventsPerWaitMax` descriptors per `wait`.
    public init(eventsPerWaitMax: Int = NetworkingLimits.pollEventsPerWaitMax) throws {
        let fd = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard fd >= 0 else { throw SocketError.system(operation: "epoll_create1", code: errno) }
        descriptor = fd
        ready = [epoll_event](repeating: epoll_event(), count: max(1, eventsPerWaitMax))
    }

    deinit { _ = Glibc.close(descriptor) }

    /// Starts watching `fd` for `events` under `token`.
    public func add(_ fd: Int32, token: UInt64, events: PollEvents) throws {
        try control(EPOLL_CTL_ADD, fd, token: token, events: events, operation: "epoll_ctl add")
    }

    /// Changes what `fd` is watched for.
    public func modify(_ fd: Int32, token: UInt64, events: PollEvents) throws {
        try control(EPOLL_CTL_MOD, fd, token: token, events: events, operation: "epoll_ctl mod")
    }

    /// Stops watching `fd` (call before closing it); a descriptor not watched is no error.
    public func remove(_ fd: Int32) {
        var event = epoll_event()
        _ = epoll_ctl(descriptor, EPOLL_CTL_DEL, fd, &event)
    }

    /// Waits up to `timeoutMillis` (negative: forever) for ready descriptors; an interrupted
    /// wait returns no events rather than an error.
    public func wait(timeoutMillis: Int) throws -> [PollEvent] {
        let count = ready.withUnsafeMutableBufferPointer { buffer in
            epoll_wait(descriptor, buffer.baseAddress, Int32(buffer.count), Int32(clamping: timeoutMillis))
        }
        if count < 0 {
            if errno == EINTR { return [] }
            throw SocketError.system(operation: "epoll_wait", code: errno)
        }
        return (0..<Int(count)).map { PollEvent(token: ready[$0].data.u64, events: PollEvents(rawValue: ready[$0].events)) }
    }

    private func control(_ operation: Int32, _ fd: Int32, token: UInt64, events: PollEvents, operation name: String) throws {
        var event = epoll_event()
        event.events = events.subtracting(.failed).rawValue
        event.data.u64 = token
        for _ in 0..<NetworkingLimits.interruptRetriesMax {
            if epoll_ctl(descriptor, operation, fd, &event) == 0 { return }
            guard errno == EINTR else { throw SocketError.system(operation: name, code: errno) }
        }
        throw SocketError.system(operation: name, code: EINTR)
    }
}

/// A wake-up an event loop can wait on in its `EventPoll` (an eventfd): any thread may
/// `signal` it; the loop `clear`s it when it wakes. Signals coalesce: many become one wake-up.
public final class WakeSignal: Sendable {
    /// The eventfd, to register for `.readable`.
    public let descriptor: Int32

    /// A new, unsignalled wake-up.
    public init() throws {
        let fd = eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC))
        guard fd >= 0 else { throw SocketError.system(operation: "eventfd", code: errno) }
        descriptor = fd
    }

    deinit { _ = Glibc.close(descriptor) }

    /// Makes the descriptor readable until the next `clear`.
    public func signal() {
        var one: UInt64 = 1
        for _ in 0..<NetworkingLimits.interruptRetriesMax {
            // EAGAIN only when the counter is at its maximum: it is signalled already.
            if write(descriptor, &one, 8) == 8 || errno != EINTR { return }
        }
    }

    /// Resets the wake-up (non-blocking; nothing to clear is no error).
    public func clear() {
        var value: UInt64 = 0
        for _ in 0..<NetworkingLimits.interruptRetriesMax {
            if read(descriptor, &value, 8) == 8 || errno != EINTR { return }
        }
    }
}
