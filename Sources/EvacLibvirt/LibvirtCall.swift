internal import CLibvirt
import Foundation

/// The one way evac calls a libvirt function that can fail.
///
/// libvirt's error is thread-local and most libvirt calls reset it on entry, `virDomainGetName`
/// included: an error message built with the guest's name read *after* the failure reads
/// "unknown libvirt error". Here the description of the call is a plain value, computed by the
/// caller before the call, and the thread's error is read right after it returns, before
/// anything else can run on the thread. `lastError` is private to this file, so no call site
/// can read the error any other way.
///
/// Every call is also recorded in the thread's `CallTrace` (when it has one), which is how a
/// caller waiting with a deadline knows which call a host has not answered.
enum Libvirt {
    /// A call returning a status: fails when it is negative.
    @discardableResult
    static func status(_ operation: String, uri: String?, _ call: () -> Int32) throws(LibvirtError) -> Int32 {
        let rc = try traced(operation, uri: uri, call)
        if rc < 0 { throw lastError(operation, uri: uri) }
        return rc
    }

    /// A call returning a pointer or handle: fails when it is nil.
    static func object<T>(_ operation: String, uri: String?, _ call: () -> T?) throws(LibvirtError) -> T {
        guard let p = try traced(operation, uri: uri, call) else { throw lastError(operation, uri: uri) }
        return p
    }

    /// A call returning a malloc'd C string that becomes ours (XML descriptions, hostnames).
    static func string(
        _ operation: String, uri: String?, _ call: () -> UnsafeMutablePointer<CChar>?
    ) throws(LibvirtError) -> String {
        let p = try object(operation, uri: uri, call)
        defer { free(p) }
        return String(cString: p)
    }

    /// A call whose failure only means "unknown" to the caller: the error is consumed (so it
    /// cannot be mistaken for a later call's) and nil returned.
    static func optional<T>(_ operation: String, uri: String?, _ call: () throws(LibvirtError) -> T) -> T? {
        do { return try call() } catch { return nil }
    }

    /// Records the call in the thread's trace. A thread whose waiter gave up makes no further
    /// call: it only has to unwind (and so release what it opened).
    private static func traced<T>(_ operation: String, uri: String?, _ call: () -> T) throws(LibvirtError) -> T {
        guard let trace = CallTrace.current else { return call() }
        guard trace.enter(operation) else {
            throw LibvirtError(
                .interrupted, message: "not called: nobody waits for the result any more", uri: uri,
                operation: operation)
        }
        defer { trace.leave() }
        return call()
    }

    /// Reads and clears the calling thread's last libvirt error.
    private static func lastError(_ operation: String, uri: String?) -> LibvirtError {
        defer { virResetLastError() }
        guard let e = virGetLastError() else {
            return LibvirtError(
                code: Int32(VIR_ERR_INTERNAL_ERROR.rawValue), domain: 0,
                message: "libvirt reported no error", uri: uri, operation: operation)
        }
        let message = e.pointee.message.map { String(cString: $0) } ?? "libvirt gave no message"
        return LibvirtError(
            code: e.pointee.code, domain: e.pointee.domain, message: message, uri: uri, operation: operation)
    }
}

/// The libvirt call a thread is in and since when, for a waiter that gives up at a deadline
/// (`LibvirtRuntime.waiting`). One per waited-for operation, installed on its thread.
final class CallTrace: @unchecked Sendable {
    struct Call {
        var operation: String
        var started: ContinuousClock.Instant
        var limit: Duration
    }

    private let lock = NSLock()
    private var call: Call?
    private var lastOperation: String?
    private var gaveUp = false
    /// The deadline of the next call: the connect timeout for an open, the call timeout else.
    private let callLimit: Duration
    private let connectLimit: Duration

    init(callLimit: Duration, connectLimit: Duration) {
        self.callLimit = callLimit
        self.connectLimit = connectLimit
    }

    /// Starts a call; false when the waiter gave up (the call must not be made).
    func enter(_ operation: String) -> Bool {
        let limit = operation.hasPrefix("virConnectOpen") ? connectLimit : callLimit
        return lock.withLock {
            if gaveUp { return false }
            call = Call(operation: operation, started: .now, limit: limit)
            lastOperation = operation
            return true
        }
    }

    /// The waiter stops waiting: what the thread opens from now on is not kept anywhere.
    func giveUp() { lock.withLock { gaveUp = true } }
    var isAbandoned: Bool { lock.withLock { gaveUp } }

    func leave() { lock.withLock { call = nil } }

    /// The call that has been waiting longer than its limit, if any.
    func overdue(at now: ContinuousClock.Instant) -> Call? {
        lock.withLock { call.flatMap { now - $0.started >= $0.limit ? $0 : nil } }
    }

    /// The call in progress, else the last one made: what a cancelled waiter names.
    var currentOperation: String? { lock.withLock { call?.operation ?? lastOperation } }

    // The trace of the calling thread, in a pthread key of our own (not Foundation's thread
    // dictionary: this runs on every libvirt call).
    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()

    static var current: CallTrace? {
        pthread_getspecific(key).map { Unmanaged<CallTrace>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Installs `self` as the calling thread's trace for the duration of `body`.
    func installed<T>(_ body: () -> T) -> T {
        pthread_setspecific(Self.key, Unmanaged.passUnretained(self).toOpaque())
        defer { pthread_setspecific(Self.key, nil) }
        return body()
    }
}
