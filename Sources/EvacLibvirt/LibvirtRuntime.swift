internal import CLibvirt
import EvacCore
import Foundation

/// Process-wide libvirt set-up, done once before the first connection: SIGPIPE ignored,
/// `virInitialize`, a silent error handler, and the default event loop on its own thread
/// (libvirt needs it for keepalive and migration events).
public final class LibvirtRuntime: Sendable {
    /// Swift initialises a static `let` exactly once, thread-safely: that is our "once".
    public static let shared = LibvirtRuntime()

    private init() {
        // libvirt writes to sockets with write(2): a daemon that dies mid-call would otherwise
        // kill the whole process with SIGPIPE (exit 141). libvirt asks applications to ignore
        // it; the executable does so first thing too, this covers every other user (tests).
        signal(SIGPIPE, SIG_IGN)
        // libxml2's global set-up must not race with libvirt's own XML parsing.
        XMLTree.prepareParser()
        // virInitialize first: libvirt requires it before any other call in a threaded program.
        if virInitialize() < 0 { virResetLastError() }
        // Without this, libvirt prints every error to stderr; we report them ourselves.
        virSetErrorFunc(nil, libvirtSilentErrorHandler)
        if virEventRegisterDefaultImpl() < 0 { virResetLastError() }
        let loop = Thread {
            // Runs for the life of the process; each iteration dispatches ready timers/fds.
            while true {
                if virEventRunDefaultImpl() < 0 { virResetLastError() }
            }
        }
        loop.name = "evac.libvirt.event-loop"
        loop.start()
    }

    /// Makes sure set-up happened; call before any other libvirt call.
    public func start() {}

    /// Runs blocking libvirt work on a fresh dedicated thread, never on Swift's cooperative
    /// pool (a blocked pool thread starves every other task), and waits for it without a
    /// deadline (a migration, which keepalive and the executor's timeouts bound). The body must
    /// capture any libvirt error itself: the error is thread-local to that thread.
    public static func blocking<T: Sendable>(_ name: String, _ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            let thread = Thread { continuation.resume(returning: body()) }
            thread.name = name
            thread.start()
        }
    }

    /// Like `blocking`, but `giveUp` is asked ten times a second and, once it returns a value,
    /// the waiter resumes with it and leaves the body's thread to end by itself (its result is
    /// dropped). For a migration whose source daemon does not end it after an abort.
    static func blocking<T: Sendable>(
        _ name: String, giveUp: @escaping @Sendable () -> T?,
        _ body: @escaping @Sendable () -> T
    ) async -> T {
        let handoff = Handoff<T>()
        return await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            _ = handoff.arm(continuation)
            let thread = Thread {
                if handoff.resume(body()) == .lost { abandoned.withLock { $0 -= 1 } }
            }
            thread.name = name
            thread.start()
            @Sendable func check() {
                watchQueue.asyncAfter(deadline: .now() + .milliseconds(100)) {
                    guard handoff.isWaiting else { return }
                    if let value = giveUp() {
                        handoff.resume(value) { abandoned.withLock { $0 += 1 } }
                        return
                    }
                    check()
                }
            }
            check()
        }
    }

    /// How a waited-for operation ended for its waiter.
    enum Waited<T: Sendable>: Sendable {
        case done(T)
        /// A libvirt call had not returned within its limit.
        case noAnswer(operation: String, after: Duration)
        /// The waiting task was cancelled (the run was interrupted); `operation` is the call
        /// that was in progress or last made.
        case cancelled(operation: String?)
    }

    /// Like `blocking`, but stops waiting when a libvirt call of the body has been waiting
    /// longer than its limit (the connect timeout for an open, the call timeout for any other
    /// call; time between calls does not count), or when the waiting task is cancelled.
    ///
    /// The body's thread is then abandoned, not stopped (a thread blocked in libvirt cannot be):
    /// it runs to its end by itself, when keepalive closes a connection that stopped answering
    /// or never, for one that never opened. It shares nothing with the waiter but the handoff,
    /// its libvirt errors stay on its own thread, and its result is dropped: a connection that
    /// opened late is released, and so closed, right there. `abandoned` counts those threads.
    static func waiting<T: Sendable>(
        _ name: String, connectLimit: Duration, callLimit: Duration,
        _ body: @escaping @Sendable () -> T
    ) async -> Waited<T> {
        let trace = CallTrace(callLimit: callLimit, connectLimit: connectLimit)
        let handoff = Handoff<Waited<T>>()
        let tick = DispatchTimeInterval.milliseconds(
            Int(min(max(1, min(callLimit, connectLimit).milliseconds / 20), 100)))
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Waited<T>, Never>) in
                guard handoff.arm(continuation) else { return } // cancelled before it started
                let thread = Thread {
                    let result = trace.installed(body)
                    if handoff.resume(.done(result)) == .lost { abandoned.withLock { $0 -= 1 } }
                }
                thread.name = name
                thread.start()
                watch(handoff, trace, every: tick)
            }
        } onCancel: {
            trace.giveUp()
            handoff.resume(.cancelled(operation: trace.currentOperation)) { abandoned.withLock { $0 += 1 } }
        }
    }

    /// Checks the trace until the body is done or overdue.
    private static func watch<T: Sendable>(
        _ handoff: Handoff<Waited<T>>, _ trace: CallTrace, every interval: DispatchTimeInterval
    ) {
        watchQueue.asyncAfter(deadline: .now() + interval) {
            guard handoff.isWaiting else { return }
            if let late = trace.overdue(at: .now) {
                trace.giveUp()
                handoff.resume(.noAnswer(operation: late.operation, after: late.limit)) {
                    abandoned.withLock { $0 += 1 }
                }
                return
            }
            watch(handoff, trace, every: interval)
        }
    }

    private static let watchQueue = DispatchQueue(label: "evac.libvirt.deadlines")

    /// Threads whose waiter gave up and that have not finished yet (tests wait for 0).
    static let abandoned = LockedCounter()
}

/// One result handed from a worker thread to one waiter, at most once: whoever comes first
/// (the result, the deadline, a cancellation) resumes the waiter; later values are dropped.
final class Handoff<T: Sendable>: @unchecked Sendable {
    private enum State { case idle, waiting(CheckedContinuation<T, Never>), early(T), done }
    enum Resumed { case lost, wonEarly, wonOverWorker }
    private let lock = NSLock()
    private var state = State.idle

    /// Makes `c` the waiter; false (and `c` resumed at once) when a value came first.
    func arm(_ c: CheckedContinuation<T, Never>) -> Bool {
        let early: T? = lock.withLock {
            if case .early(let v) = state {
                state = .done
                return v
            }
            state = .waiting(c)
            return nil
        }
        guard let early else { return true }
        c.resume(returning: early)
        return false
    }

    var isWaiting: Bool { lock.withLock { if case .waiting = state { return true } else { return false } } }

    /// Hands `value` to the waiter unless another value got there first. `overWorker` runs
    /// when it beat a running worker, before the waiter resumes (so the waiter sees its effect).
    @discardableResult
    func resume(_ value: T, overWorker: () -> Void = {}) -> Resumed {
        let (outcome, c): (Resumed, CheckedContinuation<T, Never>?) = lock.withLock {
            switch state {
            case .idle:
                state = .early(value)
                return (.wonEarly, nil)
            case .waiting(let c):
                state = .done
                return (.wonOverWorker, c)
            case .early, .done: return (.lost, nil)
            }
        }
        if outcome == .wonOverWorker { overWorker() }
        c?.resume(returning: value)
        return outcome
    }
}

extension LibvirtRuntime.Waited {
    /// The body's result, or the error a waiter that gave up reports: which call the host left
    /// unanswered and for how long.
    func result<V>(uri: String) -> Result<V, LibvirtError> where T == Result<V, LibvirtError> {
        switch self {
        case .done(let r): return r
        case .noAnswer(let operation, let after):
            // The operation prefixes the text wherever it is shown ("virConnectOpenAuth: no …").
            let what =
                operation.hasPrefix("virConnectOpen")
                ? "no connection within \(Format.planDuration(ms: UInt64(clamping: after.milliseconds))) (connect timeout): the host does not answer"
                : "no answer within \(Format.planDuration(ms: UInt64(clamping: after.milliseconds))) (call timeout)"
            return .failure(LibvirtError(.noAnswer, message: what, uri: uri, operation: operation))
        case .cancelled(let operation):
            return .failure(
                LibvirtError(
                    .interrupted, message: "not waited for: the run was interrupted",
                    uri: uri, operation: operation ?? "connect"))
        }
    }
}

/// A counter behind a lock.
final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func withLock<R>(_ body: (inout Int) -> R) -> R { lock.withLock { body(&value) } }
    var current: Int { withLock { $0 } }
}

/// Counts per key behind a lock.
final class LockedMap: @unchecked Sendable {
    private let lock = NSLock()
    private var value: [String: Int] = [:]
    func withLock<R>(_ body: (inout [String: Int]) -> R) -> R { lock.withLock { body(&value) } }
}

extension Duration {
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}

/// A C function pointer: libvirt calls it instead of printing to stderr.
private let libvirtSilentErrorHandler: @convention(c) (UnsafeMutableRawPointer?, virErrorPtr?) -> Void = { _, _ in }
