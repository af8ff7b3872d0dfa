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
            storage: key.storage, hypervisorVersion: version, nwfilters: key.nwfilters, machine: key.machine)
        return StaticFilters.first(needs, TargetProfile(host: target, cpuPool: nil), target: target.name)
    }
}
