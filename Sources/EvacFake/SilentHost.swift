import Foundation

/// Fault injection for the real libvirt client, for tests: a "host" that accepts libvirt connections on a unix socket of its own and never answers:
/// what a frozen libvirtd or a hung ssh looks like to a client. Owns its socket, its accepted
/// connections and its accepting thread; `close()` hangs up on every client, which is what ends
/// a client thread left waiting in libvirt.
public final class SilentHost: @unchecked Sendable {
    public let path: String
    public var uri: String { "qemu+unix:///system?socket=\(path)" }
    private let listener: Int32
    private let lock = NSLock()
    private var clients: [Int32] = []
    private var closed = false

    public init() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "evac-silent-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        path = dir.appendingPathComponent("sock").path
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw Failure("socket: errno \(errno)") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            throw Failure("socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0, listen(listener, 64) == 0 else { throw Failure("bind/listen \(path): errno \(errno)") }
        let thread = Thread { [self] in acceptForever() }
        thread.name = "silent-host.accept"
        thread.start()
    }

    public var connectionsAccepted: Int { lock.withLock { clients.count } }

    /// The listener is closed here, by the only thread that uses it, once `close()` shut it
    /// down: closed elsewhere, its number could be reused (by another test's socket) while this
    /// thread is about to accept on it.
    private func acceptForever() {
        defer { _ = Glibc.close(listener) }
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return
            } // shut down
            let keep = lock.withLock { () -> Bool in
                if closed { return false }
                clients.append(fd)
                return true
            }
            if !keep {
                _ = Glibc.close(fd)
                return
            }
        }
    }

    /// Hangs up on every client and stops listening.
    public func close() {
        let fds: [Int32] = lock.withLock {
            if closed { return [] }
            closed = true
            defer { clients = [] }
            return clients
        }
        for fd in fds { _ = Glibc.close(fd) }
        shutdown(listener, Int32(SHUT_RDWR))
        try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
    }

    deinit { close() }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        init(_ d: String) { description = d }
    }
}
