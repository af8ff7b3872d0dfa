import EvacCore
import Foundation

/// One open connection per URI, shared by every caller for short calls; reopened when libvirt
/// says the old one died. Calls that block for long (a migration) borrow a connection of their
/// own instead. The cache owns the connections (each closes itself when the last user lets go).
///
/// Why long calls must not share: libvirt's RPC client lets the thread whose call owns the
/// socket send and receive for the others. A thread that queues a call wakes the owner with
/// `g_main_loop_quit`, which is lost when the owner has released the client lock but not yet
/// entered `g_main_loop_run` (libvirt 9.0 `virNetClientIO`). The queued call is then not sent
/// until something else wakes the owner: the next statistics poll, or the end of the owner's
/// call, which for a migration is the end of that migration. On the lab, 16 of 70 migrations
/// on shared connections returned one poll (0.5 s) late; 0 of 70 on borrowed ones.
///
/// Every method blocks and runs on a thread a waiter may abandon at a deadline
/// (`LibvirtRuntime.waiting`): a connection opened by such a thread after its waiter gave up is
/// never cached, so it closes when that thread lets go of it.
final class ConnectionCache: @unchecked Sendable {
    private let lock = NSLock()
    private var open: [String: LibvirtConnection] = [:]
    private var idle: [String: [LibvirtConnection]] = [:]
    let settings: ConnectionSettings
    /// Idle borrowed connections kept per URI for the next long call (opening one over ssh or
    /// TLS costs a handshake; over a local socket about 1 ms).
    let idleLimit = 8

    init(settings: ConnectionSettings = ConnectionSettings()) { self.settings = settings }

    /// A live connection to `uri`, opening one if needed. Opening happens outside the lock, so
    /// a slow host does not hold up the others.
    func connection(_ uri: String) throws(LibvirtError) -> LibvirtConnection {
        if let cached = lock.withLock({ open[uri] }), cached.isAlive { return cached }
        let fresh = try LibvirtConnection(uri: uri, settings: settings)
        return lock.withLock {
            if CallTrace.current?.isAbandoned == true { return fresh }
            // Another thread may have reopened meanwhile: keep one connection per URI.
            if let other = open[uri], other.isAlive { return other }
            open[uri] = fresh
            return fresh
        }
    }

    /// The cached connection to `uri` if there is one, without opening any (non-blocking).
    func cached(_ uri: String) -> LibvirtConnection? { lock.withLock { open[uri] } }

    /// A connection used by no one else until `giveBack`.
    func borrow(_ uri: String) throws(LibvirtError) -> LibvirtConnection {
        while let c = lock.withLock({ idle[uri]?.popLast() }) {
            if c.isAlive { return c }
        }
        return try LibvirtConnection(uri: uri, settings: settings)
    }

    /// Returns a borrowed connection; a dead one (or one over the idle limit) is closed.
    func giveBack(_ uri: String, _ connection: LibvirtConnection) {
        guard connection.isAlive, CallTrace.current?.isAbandoned != true else { return }
        lock.withLock {
            if idle[uri, default: []].count < idleLimit { idle[uri, default: []].append(connection) }
        }
    }

    /// Forgets `connection` if it is still the cached one (after it was found dead, or a call on
    /// it went unanswered: calls queued behind a stuck one would wait for it).
    func drop(_ uri: String, _ connection: LibvirtConnection) {
        lock.withLock { if open[uri] === connection { open[uri] = nil } }
    }

    /// Forgets the cached connection to `uri`, whichever it is.
    func drop(_ uri: String) {
        lock.withLock { open[uri] = nil }
    }
}
