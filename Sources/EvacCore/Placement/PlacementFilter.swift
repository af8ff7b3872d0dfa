/// Every rule that can refuse a guest a target, in the order a target is judged: the one filter
/// table placement and the pre-checks share (kubectl drain's `makeFilters`). The static filters
/// (`StaticFilters.first`, also run live by `LiveFilters` before a migration) come first, then
/// the ones that depend on what else is planned (`FleetState.dynamicRejection`, which ends with
/// storage copy's room in the pools). The raw value is the id the plan file, the reports and the
/// logs use; schemas/planfile.schema.json lists the same ids.
public enum PlacementFilter: String, Codable, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// The target's daemon did not answer when the inventory was read.
    case unreachable
    /// The host is a source of this plan: it is being drained.
    case isSource = "is-source"
    /// The target's architecture is not the guest's.
    case arch
    /// The target offers no domain of the guest's type (`<domain type='kvm'>` on a TCG-only host).
    case virtType = "virt-type"
    /// The target's QEMU is older than the source's (a running guest cannot go back).
    case version
    /// The target's QEMU has no machine type of the guest's.
    case machine
    /// The target is in another `cpu-pool` than the source.
    case cpuPool = "cpu-pool"
    /// The target's CPU vendor is not the one the guest's CPU needs.
    case cpuVendor = "cpu-vendor"
    /// The target's QEMU does not know the guest's CPU model (its domain capabilities).
    case cpuModel = "cpu-model"
    /// The target's CPU lacks features the guest's CPU exposes.
    case cpuFeatures = "cpu-features"
    /// A bridge or libvirt network of the guest's NICs is missing or inactive there.
    case bridge
    /// A network filter the guest's NICs use is not defined there.
    case nwfilter
    /// Shared storage of the guest's disks is not reachable there.
    case storage
    /// No pool at a copied disk's path, or too little room in it (storage copy).
    case storageCopy = "storage-copy"
    /// The target pool's type cannot hold a copied disk's format.
    case diskFormat = "disk-format"
    /// A guest of that name is already defined or planned there.
    case nameConflict = "name-conflict"
    /// The guest is pinned to another host (`constraints.pins`).
    case pin
    /// Not enough memory after the reserve and what is planned there.
    case memory
    /// Its vCPUs would exceed `constraints.max-vcpu-ratio` there.
    case vcpuRatio = "vcpu-ratio"
    /// Another member of its anti-affinity group runs or is planned there.
    case antiAffinity = "anti-affinity"
    /// Every filter passed, but the bounded search placed it nowhere (not expected to happen).
    case search

    /// The id, as written in plan files and reports.
    public var description: String { rawValue }
}
