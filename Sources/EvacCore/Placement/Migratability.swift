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
            // Seen on the lab (libvirt 9.0, QEMU 7.2): virtiofs is refused outright; an idle 9p
            // guest that never mounted its export did migrate, but QEMU blocks migration while
            // the export is mounted, which is what the export is for, and evac cannot see it.
            if fs.hasSuffix("(virtiofs)") {
                return
                    "has filesystem passthrough \(fs), which libvirt refuses to migrate (\"non-migratable device: …/vhost-user-fs\"); \(fix)"
            }
            return
                "has filesystem passthrough \(fs): QEMU refuses to migrate while the guest has it mounted (\"Migration is disabled when VirtFS export path … is mounted in the guest\"), which evac cannot see from the host; \(fix)"
        }
        for d in g.disks where d.kind == .other {
            switch d.source {
            case "vhostuser":
                return
                    "has a vhost-user disk \(d.target), served by a backend process on the source host, which libvirt cannot copy (\"cannot precreate storage for disk type 'vhostuser'\"); \(fix)"
            case "nvme":
                return "has NVMe disk \(d.target), a PCI device of the source host given to the guest; \(fix)"
            default: continue
            }
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
