import CLibvirt
import Foundation

/// Process-wide libvirt set-up, done once before the first connection:
/// `virInitialize`, a silent error handler, and the default event loop on its own thread
/// (libvirt needs it for keepalive and, later, migration events).
public final class LibvirtRuntime: Sendable {
    /// Swift initialises a static `let` exactly once, thread-safely: that is our "once".
    public static let shared = LibvirtRuntime()

    private init() {
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
    /// pool (a blocked pool thread starves every other task). The body must capture any libvirt
    /// error itself: the error is thread-local to that thread.
    public static func blocking<T: Sendable>(_ name: String, _ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            let thread = Thread { continuation.resume(returning: body()) }
            thread.name = name
            thread.start()
        }
    }
}

/// A C function pointer: libvirt calls it instead of printing to stderr.
private let libvirtSilentErrorHandler: @convention(c) (UnsafeMutableRawPointer?, virErrorPtr?) -> Void = { _, _ in }
