import EvacCore
import Foundation

/// Domain capabilities per (host URI, arch, virt type). libvirt probes QEMU for them and they do
/// not change while a drain runs; the CPU pre-check of every migration needs them.
final class DomainCapabilitiesCache: @unchecked Sendable {
    private let lock = NSLock()
    private var xml: [String: String] = [:]

    func get(
        uri: String, arch: String?, virtType: String?, read: () throws(LibvirtError) -> String
    ) throws(LibvirtError) -> String {
        let key = "\(uri)\u{1f}\(arch ?? "")\u{1f}\(virtType ?? "")"
        if let hit = lock.withLock({ xml[key] }) { return hit }
        let fresh = try read()
        lock.withLock { xml[key] = fresh }
        return fresh
    }
}

/// The host part of an inventory (capabilities, expanded CPU features, bridges, networks,
/// pools) per URI for a short while: every pre-check inspects its target, and re-reading what
/// does not change during a drain cost each migration a few hundred milliseconds of round
/// trips. Guests and free memory are always read fresh.
final class HostPartCache: @unchecked Sendable {
    private let lock = NSLock()
    private var parts: [String: (read: Date, host: HostInventory)] = [:]
    let maxAge: TimeInterval

    init(maxAge: TimeInterval = 30) { self.maxAge = maxAge }

    func get(uri: String, read: () throws(LibvirtError) -> HostInventory) throws(LibvirtError) -> HostInventory {
        if let hit = lock.withLock({ parts[uri] }), Date().timeIntervalSince(hit.read) < maxAge { return hit.host }
        let fresh = try read()
        lock.withLock { parts[uri] = (Date(), fresh) }
        return fresh
    }
}
