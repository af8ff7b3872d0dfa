internal import CLibvirt
import Foundation

/// Catches the JOB_COMPLETED event of one domain: the only place final migration statistics
/// survive when the source domain is undefined (GetJobStats(COMPLETED) then fails).
/// Owns its callback registration and deregisters it in deinit; libvirt owns the retained
/// context box and releases it through the free callback when deregistered.
final class JobCompletedWatch: @unchecked Sendable {
    /// Shared with the C callback (event-loop thread) through the opaque pointer.
    final class Box: @unchecked Sendable {
        let lock = NSLock()
        var stats: [String: String]?
        let arrived = DispatchSemaphore(value: 0)
    }

    private let connection: LibvirtConnection
    private let box = Box()
    private let callbackID: Int32

    init(_ domain: LibvirtDomain) throws(LibvirtError) {
        connection = domain.connection
        let opaque = Unmanaged.passRetained(box).toOpaque()
        let c = connection
        do {
            callbackID = try Libvirt.status(
                "virConnectDomainEventRegisterAny(\(domain.name), JOB_COMPLETED)", uri: c.uri
            ) {
                virConnectDomainEventRegisterAny(
                    c.handle, domain.handle, Int32(VIR_DOMAIN_EVENT_ID_JOB_COMPLETED.rawValue),
                    unsafeBitCast(jobCompletedCallback, to: virConnectDomainEventGenericCallback.self),
                    opaque, releaseBox)
            }
        } catch {
            Unmanaged<Box>.fromOpaque(opaque).release() // libvirt did not take it
            throw error
        }
    }

    private let closed = NSLock()
    private var isClosed = false

    /// Deregisters the callback (blocking: a call to the daemon); deinit does it otherwise.
    func close() {
        let first = closed.withLock { () -> Bool in
            defer { isClosed = true }
            return !isClosed
        }
        guard first else { return }
        let (c, id) = (connection, callbackID)
        _ = Libvirt.optional("virConnectDomainEventDeregisterAny", uri: c.uri) { () throws(LibvirtError) in
            try Libvirt.status("virConnectDomainEventDeregisterAny", uri: c.uri) {
                virConnectDomainEventDeregisterAny(c.handle, id)
            }
        }
    }

    deinit { close() }

    /// The event's statistics, waiting up to `timeout` for it; nil if it did not come.
    func stats(waitingUpTo timeout: TimeInterval) -> [String: String]? {
        if let s = box.lock.withLock({ box.stats }) { return s }
        _ = box.arrived.wait(timeout: .now() + timeout)
        return box.lock.withLock { box.stats }
    }
}

/// Runs on the event-loop thread; libvirt frees `params` after it returns, so copy them.
private let jobCompletedCallback:
    @convention(c) (
        OpaquePointer?, OpaquePointer?, virTypedParameterPtr?, Int32, UnsafeMutableRawPointer?
    ) -> Void = { _, _, params, n, opaque in
        guard let opaque else { return }
        let box = Unmanaged<JobCompletedWatch.Box>.fromOpaque(opaque).takeUnretainedValue()
        let stats = typedParamsDictionary(params, n)
        box.lock.withLock { box.stats = stats }
        box.arrived.signal()
    }

private let releaseBox: @convention(c) (UnsafeMutableRawPointer?) -> Void = { opaque in
    if let opaque { Unmanaged<JobCompletedWatch.Box>.fromOpaque(opaque).release() }
}
