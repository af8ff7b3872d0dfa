/// The static side of placement: what a guest needs of any target regardless of load (arch, CPU,
/// bridges and networks), and what a target offers. Both are plain values so that guests with
/// equal needs and targets with equal profiles share one filter evaluation; the reasons the
/// filters give depend only on these values, never on a host's name.

/// A bridge or network a guest uses, under the name it must have on the target (after bridge-map).
struct NetNeed: Hashable {
    var name: String
    /// The name on the source when bridge-map renamed it.
    var mappedFrom: String?
}

enum CPUNeed: Hashable {
    case none
    /// `constraints.cpu: compatible`: same vendor (when both are known), the exact model for
    /// host-passthrough, and a feature superset.
    case compatible(mode: GuestCPU.Mode, vendor: String, model: String?, features: [String])
    /// `constraints.cpu: pool`: the source's declared cpu-pool.
    case pool(String?)
}

/// Shared storage a guest's disk is on, which the target must reach too (it is not copied).
enum StorageNeed: Hashable, Comparable {
    /// A file or block disk under a shared pool's directory on the source (an NFS mount, …):
    /// the target needs a shared pool at the same directory.
    case path(String, pool: String)
    /// A `<source pool=… volume=…>` disk in a shared pool: the target needs a pool of that name.
    case pool(String)

    /// The shared storage of `guest`'s disks on a host with `pools`, sorted and unique. Network
    /// disks (rbd, iscsi, gluster URLs) name their server, not a host's pool: not checked here.
    static func of(_ guest: Guest, pools: [StoragePoolInfo]) -> [StorageNeed] {
        var out = Set<StorageNeed>()
        for d in guest.disks where d.shared && !d.source.isEmpty {
            switch d.kind {
            case .file, .block:
                let pool = pools.filter { $0.shared && ($0.targetPath.map { Self.isUnder(d.source, $0) } ?? false) }
                    .max { ($0.targetPath?.count ?? 0) < ($1.targetPath?.count ?? 0) }
                if let pool, let dir = pool.targetPath { out.insert(.path(Self.trimmed(dir), pool: pool.name)) }
            case .volume:
                let name = String(d.source.prefix { $0 != "/" })
                if pools.contains(where: { $0.name == name && $0.shared }) { out.insert(.pool(name)) }
            case .network, .other: continue
            }
        }
        return out.sorted()
    }

    static func isUnder(_ path: String, _ dir: String) -> Bool {
        let d = trimmed(dir)
        return !d.isEmpty && (path == d || path.hasPrefix(d == "/" ? "/" : d + "/"))
    }

    static func trimmed(_ dir: String) -> String {
        var d = dir
        while d.count > 1 && d.hasSuffix("/") { d.removeLast() }
        return d
    }
}

struct GuestNeeds: Hashable {
    /// Guests keep the architecture of the host they run on.
    var arch: String
    var cpu: CPUNeed
    var bridges: [NetNeed]
    var networks: [NetNeed]
    var storage: [StorageNeed] = []
    /// The source's QEMU version: a target's must not be older.
    var hypervisorVersion: HypervisorVersion? = nil
    /// Network filters the guest's NICs reference (sorted, unique).
    var nwfilters: [String] = []
    var machine: String? = nil
    /// Local disks a storage copy moves, and where libvirt pre-creates them.
    var copies: [CopyNeed] = []
    /// Whether libvirt compares the guest's CPU model with the host's (not `check='none'`).
    var cpuModelChecked = true
    /// The guest's domain type (kvm, qemu); nil when unknown.
    var virtType: String? = nil
}

/// A hypervisor version ("7.2.0") as numbers, compared part by part.
struct HypervisorVersion: Hashable, Comparable, CustomStringConvertible {
    var parts: [Int]
    init?(_ text: String?) {
        guard let text else { return nil }
        let p = text.split(separator: ".").map { Int($0) }
        guard !p.isEmpty, p.count <= 4, p.allSatisfy({ $0 != nil }) else { return nil }
        parts = p.map { $0! }
    }
    static func < (a: Self, b: Self) -> Bool { a.parts.lexicographicallyPrecedes(b.parts) }
    var description: String { parts.map(String.init).joined(separator: ".") }
}

/// What a target offers to the static filters; targets with equal profiles form one class.
struct TargetProfile: Hashable {
    var arch: String
    var vendor: String
    var model: String
    var features: [String]
    var cpuPool: String?
    var bridges: [String]
    /// Active libvirt networks: a guest cannot start on (or migrate to) an inactive one.
    var networks: [String]
    var inactiveNetworks: [String]
    /// Directories of the shared pools (sorted), and the names of the shared pools (sorted).
    var sharedPaths: [String]
    var sharedPools: [String]
    var hypervisorVersion: HypervisorVersion?
    /// nil when the host did not say (a driver without nwfilter support).
    var nwfilters: [String]?
    var machineTypes: [String]?
    /// Every pool (path, name, active) for storage copy; free space is the room filter's.
    var copyPools: [CopyPool]
    /// Domain capabilities: usable CPU models (sorted) and host-model support; nil when unknown.
    var cpuModels: [String]?
    var hostModelCPU: Bool?
    /// The domain types offered (sorted by type, their lists sorted); nil when unknown.
    var virtTypes: [VirtTypeOffer]?

    init(host: HostInventory, cpuPool: String?) {
        arch = host.arch
        vendor = host.cpu.vendor
        model = host.cpu.model
        // Sorted again: a decoded inventory did not pass through the sorting initialisers.
        features = host.cpu.features.sorted()
        self.cpuPool = cpuPool
        bridges = host.bridges.sorted()
        networks = host.networks.filter(\.active).map(\.name).sorted()
        inactiveNetworks = host.networks.filter { !$0.active }.map(\.name).sorted()
        let shared = host.storagePools.filter(\.shared)
        sharedPaths = Set(shared.compactMap(\.targetPath).map(StorageNeed.trimmed)).sorted()
        sharedPools = shared.map(\.name).sorted()
        hypervisorVersion = HypervisorVersion(host.hypervisorVersion)
        nwfilters = host.nwfilters?.sorted()
        machineTypes = host.machineTypes?.sorted()
        copyPools = CopyPool.of(host)
        cpuModels = host.cpuModels?.sorted()
        hostModelCPU = host.hostModelCPU
        virtTypes = host.virtTypes.map { offers in
            offers.map {
                VirtTypeOffer(
                    type: $0.type, machineTypes: $0.machineTypes, cpuModels: $0.cpuModels, hostModelCPU: $0.hostModelCPU
                )
            }
            .sorted { $0.type < $1.type }
        }
    }

    /// What QEMU here offers a guest of domain type `type` (machine types, CPU models,
    /// host-model): that type's own offer (virConnectGetDomainCapabilities for it) when both
    /// are known, otherwise the host's default type's, as inventories before the type had it.
    func offer(for type: String?) -> (machineTypes: [String]?, cpuModels: [String]?, hostModelCPU: Bool?) {
        if let type, let o = virtTypes?.first(where: { $0.type == type }) {
            return (o.machineTypes, o.cpuModels, o.hostModelCPU)
        }
        return (machineTypes, cpuModels, hostModelCPU)
    }
}

/// The per-guest part of `GuestNeeds`: cheap to build and hash, so that the full needs (with
/// the source's feature list) are built once per distinct key rather than once per guest.
struct NeedsKey: Hashable {
    var source: Int
    var cpu: GuestCPU
    var bridges: [NetNeed]
    var networks: [NetNeed]
    var storage: [StorageNeed]
    /// Running (moves live or paused): the target's QEMU takes over its state.
    var live: Bool
    var nwfilters: [String]
    var machine: String?
    var copies: [CopyNeed]
    var virtType: String?

    init(guest: Guest, source: Int, sourcePools: [StoragePoolInfo], constraints c: Constraints) {
        self.source = source
        virtType = guest.virtType
        copies = CopyNeed.of(guest)
        live = guest.state.isActive
        nwfilters = Array(Set(guest.nics.compactMap(\.filter))).sorted()
        machine = guest.machine
        storage = StorageNeed.of(guest, pools: sourcePools)
        cpu = c.cpu == .compatible ? guest.cpu : GuestCPU(mode: .none)
        var bridges: [NetNeed] = []
        var networks: [NetNeed] = []
        if c.bridges == .match {
            for nic in guest.nics where nic.kind == .bridge || nic.kind == .network {
                let mapped = c.bridgeMap[nic.source]
                let need = NetNeed(name: mapped ?? nic.source, mappedFrom: mapped == nil ? nil : nic.source)
                if nic.kind == .bridge { bridges.append(need) } else { networks.append(need) }
            }
        }
        self.bridges = Self.sortedUnique(bridges)
        self.networks = Self.sortedUnique(networks)
    }

    private static func sortedUnique(_ xs: [NetNeed]) -> [NetNeed] {
        guard xs.count > 1 else { return xs }
        var out: [NetNeed] = []
        for x in xs.sorted(by: { ($0.name, $0.mappedFrom ?? "") < ($1.name, $1.mappedFrom ?? "") })
        where out.last?.name != x.name {
            out.append(x)
        }
        return out
    }
}

extension GuestNeeds {
    /// The needs of a guest (described by `key`) running on `source`, under the plan's constraints.
    init(key: NeedsKey, source: HostInventory, sourcePool: String?, constraints c: Constraints) {
        arch = source.arch
        let guest = key.cpu
        switch c.cpu {
        case .ignore: cpu = .none
        case .pool: cpu = .pool(sourcePool)
        case .compatible:
            let vendor = source.cpu.vendor
            let hostFeatures = Set(source.cpu.features).union(guest.features).sorted()
            switch guest.mode {
            case .hostModel:
                cpu = .compatible(mode: .hostModel, vendor: vendor, model: nil, features: hostFeatures)
            case .hostPassthrough:
                cpu = .compatible(
                    mode: .hostPassthrough, vendor: vendor, model: guest.model ?? source.cpu.model,
                    features: hostFeatures)
            case .custom:
                cpu = .compatible(mode: .custom, vendor: vendor, model: guest.model, features: guest.features.sorted())
            case .none, .maximum:
                cpu = .compatible(mode: guest.mode, vendor: vendor, model: nil, features: [])
            }
        }
        cpuModelChecked = key.cpu.check != "none"
        bridges = key.bridges
        networks = key.networks
        storage = key.storage
        hypervisorVersion = key.live ? HypervisorVersion(source.hypervisorVersion) : nil
        nwfilters = key.nwfilters
        machine = key.machine
        copies = key.copies
        virtType = key.virtType
    }
}

/// The static filters, in the order they are reported.
enum StaticFilters {
    static func arch(_ n: GuestNeeds, _ p: TargetProfile, target: String) -> Rejection? {
        n.arch == p.arch
            ? nil
            : Rejection(target: target, filter: .arch, reason: "arch \(p.arch), guest needs \(n.arch)")
    }

    /// The guest's domain type is one the target offers for its arch (capabilities): a
    /// `type='kvm'` guest cannot start or arrive on a host without KVM ("Domain requires KVM,
    /// but it is not available"); a `type='qemu'` (TCG) guest can go anywhere QEMU runs. A guest
    /// or host whose types are unknown (an inventory written before they were read) is not judged.
    static func virtType(_ n: GuestNeeds, _ p: TargetProfile, target: String) -> Rejection? {
        guard let need = n.virtType, let offers = p.virtTypes, !offers.contains(where: { $0.type == need }) else {
            return nil
        }
        let have = offers.map(\.type)
        let offered = have.isEmpty ? "no domain type" : have.joined(separator: ", ") + (have.count == 1 ? " only" : "")
        let kvm = need == "kvm" ? " (no KVM: /dev/kvm is missing or unusable here)" : ""
        return Rejection(
            target: target, filter: .virtType,
            reason: "guest needs domain type \(need); this host offers \(offered)\(kvm)")
    }

    static func cpu(_ n: GuestNeeds, _ p: TargetProfile, target: String) -> Rejection? {
        switch n.cpu {
        case .none: return nil
        case .pool(let pool):
            guard pool != p.cpuPool else { return nil }
            return Rejection(
                target: target, filter: .cpuPool,
                reason: "cpu-pool \(p.cpuPool ?? "(none)"), source is in \(pool ?? "(none)")")
        case let .compatible(mode, vendor, model, features):
            if !vendor.isEmpty, !p.vendor.isEmpty, vendor != p.vendor {
                return Rejection(
                    target: target, filter: .cpuVendor, reason: "CPU vendor \(p.vendor), guest needs \(vendor)")
            }
            if let r = cpuModelOffer(
                mode: mode, model: model, checked: n.cpuModelChecked, p.offer(for: n.virtType), target: target)
            {
                return r
            }
            if mode == .hostPassthrough, let model, model != p.model {
                return Rejection(
                    target: target, filter: .cpuModel,
                    reason: "CPU model \(p.model), host-passthrough guest needs \(model)")
            }
            let missing = missingFeatures(features, p.features)
            guard !missing.isEmpty else { return nil }
            let why: String
            switch mode {
            case .custom: why = "custom model \(model ?? "?") requires them"
            default: why = "\(mode.rawValue) guest needs what its source exposes"
            }
            return Rejection(target: target, filter: .cpuFeatures, reason: "CPU lacks \(list(missing)) (\(why))")
        }
    }

    static func bridge(_ n: GuestNeeds, _ p: TargetProfile, target: String) -> Rejection? {
        for b in n.bridges where !contains(p.bridges, b.name) {
            return Rejection(target: target, filter: .bridge, reason: "bridge \(b.name) missing" + mapped(b))
        }
        for net in n.networks where !contains(p.networks, net.name) {
            let state = contains(p.inactiveNetworks, net.name) ? "inactive" : "missing"
            return Rejection(target: target, filter: .bridge, reason: "network \(net.name) \(state)" + mapped(net))
        }
        return nil
    }

    /// Shared storage the guest's disks are on, reachable here too (the same shared pool
    /// directory, or a shared pool of the same name): libvirt does not check it, the guest's
    /// QEMU fails to open its disk on the target.
    static func storage(_ n: GuestNeeds, _ p: TargetProfile, target: String) -> Rejection? {
        for need in n.storage {
            switch need {
            case .path(let dir, let pool) where !contains(p.sharedPaths, dir):
                return Rejection(
                    target: target, filter: .storage,
                    reason:
                        "no shared pool at \(dir) (the guest's disks are on shared pool \(pool) there on its source)")
            case .pool(let name) where !contains(p.sharedPools, name):
                return Rejection(
                    target: target, filter: .storage, reason: "no shared pool \(name) (the guest has volumes in it)")
            default: continue
            }
        }
        return nil
    }

    /// QEMU supports migrating to the same or a newer version; a running guest's machine type
    /// and device state from a newer QEMU are not guaranteed to load in an older one.
    static func version(_ n: GuestNeeds, _ p: TargetProfile, target: String) -> Rejection? {
        guard let need = n.hypervisorVersion, let have = p.hypervisorVersion, have < need else { return nil }
        return Rejection(
            target: target, filter: .version,
            reason: "QEMU \(have) here is older than the source's \(need) (migration to an older QEMU is not supported)"
        )
    }

    /// The network filters the guest's NICs reference exist here (libvirt fails the migration
    /// when the target lacks one); a host that did not list its filters is not judged.
    static func nwfilter(_ n: GuestNeeds, _ p: TargetProfile, target: String) -> Rejection? {
        guard let have = p.nwfilters else { return nil }
        for f in n.nwfilters where !contains(have, f) {
            return Rejection(target: target, filter: .nwfilter, reason: "network filter \(f) missing")
        }
        return nil
    }

    /// The guest's machine type is one the target's QEMU offers (its capabilities): libvirt
    /// refuses an unknown one ("Emulator … does not support machine type …"). A host that did
    /// not list its machine types is not judged.
    static func machine(_ n: GuestNeeds, _ p: TargetProfile, target: String) -> Rejection? {
        guard let m = n.machine, let have = p.offer(for: n.virtType).machineTypes, !contains(have, m) else {
            return nil
        }
        return Rejection(target: target, filter: .machine, reason: "QEMU here has no machine type \(m)")
    }

    /// All static filters; the first that rejects.
    static func first(_ n: GuestNeeds, _ p: TargetProfile, target: String) -> Rejection? {
        arch(n, p, target: target) ?? virtType(n, p, target: target) ?? version(n, p, target: target) ?? machine(
            n, p, target: target) ?? cpu(
                n, p, target: target)
            ?? bridge(n, p, target: target) ?? nwfilter(n, p, target: target) ?? storage(n, p, target: target)
            ?? storageCopy(n, p, target: target) ?? diskFormat(n, p, target: target)
    }

    private static func mapped(_ n: NetNeed) -> String { n.mappedFrom.map { " (bridge-map from \($0))" } ?? "" }

    /// Both arrays are sorted (HostInventory and GuestCPU sort them), so a merge walk suffices.
    static func missingFeatures(_ need: [String], _ have: [String]) -> [String] {
        var out: [String] = []
        var j = 0
        for f in need {
            while j < have.count, have[j] < f { j += 1 }
            if j >= have.count || have[j] != f { out.append(f) }
        }
        return out
    }

    static func contains(_ sorted: [String], _ x: String) -> Bool {
        var lo = 0
        var hi = sorted.count
        while lo < hi {
            let m = (lo + hi) / 2
            if sorted[m] < x { lo = m + 1 } else { hi = m }
        }
        return lo < sorted.count && sorted[lo] == x
    }

    private static func list(_ xs: [String]) -> String {
        xs.count <= 6 ? xs.joined(separator: ", ") : xs.prefix(6).joined(separator: ", ") + " and \(xs.count - 6) more"
    }
}
