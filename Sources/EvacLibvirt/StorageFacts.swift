import EvacCore

/// The storage facts of a guest that its XML does not hold: the sizes of the disks a storage
/// copy would move, and how many snapshots libvirt keeps (it refuses to migrate a guest with any).
enum StorageFacts {
    /// `disks` with capacity and allocation filled in for the local ones that have a source;
    /// shared disks are not copied, so their size does not matter to a move. A driver that
    /// cannot tell (the test driver) leaves them unknown.
    static func sized(_ disks: [GuestDisk], of dom: LibvirtDomain) throws(LibvirtError) -> [GuestDisk] {
        var out = disks
        for i in out.indices where !out[i].shared && !out[i].source.isEmpty && !out[i].target.isEmpty {
            do {
                let info = try dom.blockInfo(out[i].target)
                out[i].capacityBytes = info.capacity
                out[i].allocationBytes = info.allocation
            } catch  where [.noSupport, .operationInvalid, .other].contains(error.kind) {
                // Unknown (a driver that cannot tell, an image that cannot be read right now):
                // the storage-copy filter then judges the pool only. A lost connection or a
                // vanished guest still ends the read as before.
                continue
            }
        }
        return out
    }

    /// nil when none (the inventory leaves the field out) or when the driver cannot count them.
    static func snapshots(of dom: LibvirtDomain) throws(LibvirtError) -> Int? {
        do {
            let n = try dom.snapshotCount()
            return n > 0 ? n : nil
        } catch  where error.isNoSupport {
            return nil
        }
    }
}
