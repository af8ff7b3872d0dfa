/// Devices a running guest cannot take along in a live (or paused) migration. A shut-off guest
/// moves as a definition only, and its devices are set up again when it starts.
public enum Migratability {
    /// Why `guest` cannot move live, in words an operator can act on; nil when it can. Used by
    /// placement and again by the pre-check before each migration. Refusals under an evac
    /// policy that `allowed` waives are passed over (the guest may have another device that
    /// cannot move).
    public static func liveRefusal(_ g: Guest, allowed: [PolicyWaiver] = []) -> GuestRefusal? {
        refusals(g).first { $0.policy.map { !allowed.contains($0) } ?? true }
    }

    /// Every reason, in the order they are reported.
    static func refusals(_ g: Guest) -> [GuestRefusal] {
        let fix = "detach it, or shut the guest down to move its definition"
        var out: [GuestRefusal] = []
        if let dev = g.hostDevices.first {
            out.append(GuestRefusal("has host device \(dev), which cannot move live; \(fix)"))
        }
        for fs in g.filesystems ?? [] {
            // Seen on the lab (libvirt 9.0, QEMU 7.2): virtiofs is refused outright; an idle 9p
            // guest that never mounted its export did migrate, but QEMU blocks migration while
            // the export is mounted, which is what the export is for, and evac cannot see it.
            if fs.hasSuffix("(virtiofs)") {
                out.append(
                    GuestRefusal(
                        "has filesystem passthrough \(fs), which libvirt refuses to migrate (\"non-migratable device: …/vhost-user-fs\"); \(fix)"
                    ))
            } else {
                out.append(
                    GuestRefusal(
                        "has filesystem passthrough \(fs): QEMU refuses to migrate while the guest has it mounted (\"Migration is disabled when VirtFS export path … is mounted in the guest\"), which evac cannot see from the host; \(fix)",
                        policy: .unmounted9p))
            }
        }
        for d in g.disks where d.kind == .other {
            switch d.source {
            case "vhostuser":
                out.append(
                    GuestRefusal(
                        "has a vhost-user disk \(d.target), served by a backend process on the source host, which libvirt cannot copy (\"cannot precreate storage for disk type 'vhostuser'\"); \(fix)"
                    ))
            case "nvme":
                out.append(
                    GuestRefusal(
                        "has NVMe disk \(d.target), a PCI device of the source host given to the guest; \(fix)"))
            default: continue
            }
        }
        for nic in g.nics {
            switch nic.kind {
            case .user:
                out.append(
                    GuestRefusal(
                        "has a user-mode (NAT) NIC\(nic.mac.map { " \($0)" } ?? ""), whose host side is the source's QEMU: QEMU migrates only the NAT's DHCP leases, so the guest's connections through it drop and forwarded host ports open on the target host's address instead; \(fix)",
                        policy: .userModeNIC))
            case .other where nic.source == "vhostuser":
                out.append(
                    GuestRefusal(
                        "has a vhost-user NIC\(nic.mac.map { " \($0)" } ?? ""), whose backend process runs on the source host only; \(fix)"
                    ))
            default: continue
            }
        }
        return out
    }
}
