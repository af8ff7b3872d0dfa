import Foundation

/// One open connection per URI, shared by every caller; reopened when libvirt says the old one
/// died. The cache owns the connections (each closes itself when the last user lets go).
final class ConnectionCache: @unchecked Sendable {
    private let lock = NSLock()
    private var open: [String: LibvirtConnection] = [:]

    /// A live connection to `uri`, opening one if needed. Blocking: call on a dedicated thread.
    /// Opening happens outside the lock, so a slow host does not hold up the others.
    func connection(_ uri: String) throws(LibvirtError) -> LibvirtConnection {
        if let cached = lock.withLock({ open[uri] }), cached.isAlive { return cached }
        let fresh = try LibvirtConnection(uri: uri)
        return lock.withLock {
            // Another thread may have reopened meanwhile: keep one connection per URI.
            if let other = open[uri], other.isAlive { return other }
            open[uri] = fresh
            return fresh
        }
    }

    /// Forgets `connection` if it is still the cached one (after it was found dead).
    func drop(_ uri: String, _ connection: LibvirtConnection) {
        lock.withLock { if open[uri] === connection { open[uri] = nil } }
    }
}
