/// Devices a running guest cannot take along in a live (or paused) migration. A shut-off guest
/// moves as a definition only, and its devices are set up again when it starts.
public enum Migratability {
    /// Why `guest` cannot move live, in words an operator can act on; nil when it can. Used by
    /// placement and again by the pre-check before each migration.
    public static func liveRefusal(_ g: Guest) -> String? {
        let fix = "detach it, or shut the guest down to move its definition"
        if let dev = g.hostDevices.first {
            return "has host device \(dev), which cannot move live; \(fix)"
        }
        if let fs = g.filesystems?.first {
            // libvirt refuses virtiofs ("migration with virtiofs device is not supported"), QEMU
            // blocks migration while a 9p export is mounted.
            return "has filesystem passthrough \(fs), which cannot move live; \(fix)"
        }
        for nic in g.nics {
            switch nic.kind {
            case .user:
                return
                    "has a user-mode (NAT) NIC\(nic.mac.map { " \($0)" } ?? ""), whose host side (address, forwarded ports) stays on the source host; \(fix)"
            case .other where nic.source == "vhostuser":
                return
                    "has a vhost-user NIC\(nic.mac.map { " \($0)" } ?? ""), whose backend process runs on the source host only; \(fix)"
            default: continue
            }
        }
        return nil
    }
}
