import Foundation

/// Domain capabilities per (host URI, arch, virt type). libvirt probes QEMU for them and they do
/// not change while a drain runs; the CPU pre-check of every migration needs them.
final class DomainCapabilitiesCache: @unchecked Sendable {
    private let lock = NSLock()
    private var xml: [String: String] = [:]

    func get(uri: String, arch: String?, virtType: String?, read: () throws(LibvirtError) -> String) throws(LibvirtError) -> String {
        let key = "\(uri)\u{1f}\(arch ?? "")\u{1f}\(virtType ?? "")"
        if let hit = lock.withLock({ xml[key] }) { return hit }
        let fresh = try read()
        lock.withLock { xml[key] = fresh }
        return fresh
    }
}
