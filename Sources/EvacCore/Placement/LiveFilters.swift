/// The placement filters a pre-check runs again against a target's live inventory, right
/// before a migration: the same `StaticFilters` placement used (bridges and networks, shared
/// storage, …), so a guest placed by one rule is checked by the same rule, worded the same.
/// The CPU is left out here: before a migration libvirt's own CPU comparison is the judge.
public enum LiveFilters {
    /// The first static filter that rejects `target` for `guest` (as its source reported it,
    /// with the source's storage pools), or nil when every filter passes.
    public static func rejection(
        guest: Guest, sourcePools: [StoragePoolInfo], sourceHypervisorVersion: String?,
        target: HostInventory, bridges: Constraints.BridgePolicy,
        bridgeMap: [String: String]
    ) -> Rejection? {
        var c = Constraints()
        c.cpu = .ignore
        c.bridges = bridges
        c.bridgeMap = bridgeMap
        let key = NeedsKey(guest: guest, source: 0, sourcePools: sourcePools, constraints: c)
        // Offline moves start a fresh QEMU on the target: no version need for them.
        let version = guest.state.isActive ? HypervisorVersion(sourceHypervisorVersion) : nil
        let needs = GuestNeeds(
            arch: target.arch, cpu: .none, bridges: key.bridges, networks: key.networks,
            storage: key.storage, hypervisorVersion: version, nwfilters: key.nwfilters, machine: key.machine,
            copies: key.copies, virtType: key.virtType)
        return StaticFilters.first(needs, TargetProfile(host: target, cpuPool: nil), target: target.name)
    }

    /// The guest-level refusals that do not depend on a target (snapshots), for the pre-check.
    public static func guestRefusal(_ guest: Guest) -> String? { SnapshotRule.refusal(guest) }

    /// Storage copy's room on the live target: its pools' free space for the guest's copied
    /// disks. Migrations in flight to the same pool are not counted here: libvirt allocated
    /// their images in full when it pre-created them, so the free space read already excludes
    /// them; placement counted every planned guest.
    public static func storageCopyRoom(guest: Guest, target: HostInventory) -> Rejection? {
        var needed: [String: UInt64] = [:]
        for load in CopyLoad.of(guest) {
            guard let bytes = load.bytes, let pool = CopyPool.find(load.place, in: target.storagePools),
                let free = pool.availableBytes
            else { continue }
            let (sum, o) = needed[pool.name, default: 0].addingReportingOverflow(bytes)
            needed[pool.name] = o ? .max : sum
            if o || sum > free {
                return Rejection(
                    target: target.name, filter: .storageCopy,
                    reason:
                        "storage pool \(pool.name) \(load.place) has \(Format.bytes(Double(free))) free; disk \(load.disk) needs \(Format.bytes(Double(bytes)))"
                )
            }
        }
        return nil
    }
}
