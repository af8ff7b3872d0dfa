import Foundation

/// A value behind a lock, for the few places where state is touched from hypervisor callbacks
/// or signal handlers (which cannot await an actor). NSLock rather than Mutex: Mutex needs macOS 15.
package final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    package init(_ value: Value) { self.value = value }
    package func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

/// `close(2)` under a name that types with a `close()` method can still call.
func closeDescriptor(_ fd: Int32) { _ = close(fd) }
