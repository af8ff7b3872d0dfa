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

struct GuestNeeds: Hashable {
    /// Guests keep the architecture of the host they run on.
    var arch: String
    var cpu: CPUNeed
    var bridges: [NetNeed]
    var networks: [NetNeed]
}

/// What a target offers to the static filters; targets with equal profiles form one class.
struct TargetProfile: Hashable {
    var arch: String
    var vendor: String
    var model: String
    var features: [String]
    var cpuPool: String?
    var bridges: [String]
    var networks: [String]

    init(host: HostInventory, cpuPool: String?) {
        arch = host.arch
        vendor = host.cpu.vendor
        model = host.cpu.model
        // Sorted again: a decoded inventory did not pass through the sorting initialisers.
        features = host.cpu.features.sorted()
        self.cpuPool = cpuPool
        bridges = host.bridges.sorted()
        networks = host.networks.map(\.name).sorted()
    }
}

/// The per-guest part of `GuestNeeds`: cheap to build and hash, so that the full needs (with
/// the source's feature list) are built once per distinct key rather than once per guest.
struct NeedsKey: Hashable {
    var source: Int
    var cpu: GuestCPU
    var bridges: [NetNeed]
    var networks: [NetNeed]

    init(guest: Guest, source: Int, constraints c: Constraints) {
        self.source = source
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
        bridges = key.bridges
        networks = key.networks
    }
}

/// The static filters, in the order they are reported.
enum StaticFilters {
    static func arch(_ n: GuestNeeds, _ p: TargetProfile, target: String) -> Rejection? {
        n.arch == p.arch
            ? nil
            : Rejection(target: target, filter: "arch", reason: "arch \(p.arch), guest needs \(n.arch)")
    }

    static func cpu(_ n: GuestNeeds, _ p: TargetProfile, target: String) -> Rejection? {
        switch n.cpu {
        case .none: return nil
        case .pool(let pool):
            guard pool != p.cpuPool else { return nil }
            return Rejection(
                target: target, filter: "cpu-pool",
                reason: "cpu-pool \(p.cpuPool ?? "(none)"), source is in \(pool ?? "(none)")")
        case let .compatible(mode, vendor, model, features):
            if !vendor.isEmpty, !p.vendor.isEmpty, vendor != p.vendor {
                return Rejection(
                    target: target, filter: "cpu-vendor", reason: "CPU vendor \(p.vendor), guest needs \(vendor)")
            }
            if mode == .hostPassthrough, let model, model != p.model {
                return Rejection(
                    target: target, filter: "cpu-model",
                    reason: "CPU model \(p.model), host-passthrough guest needs \(model)")
            }
            let missing = missingFeatures(features, p.features)
            guard !missing.isEmpty else { return nil }
            let why: String
            switch mode {
            case .custom: why = "custom model \(model ?? "?") requires them"
            default: why = "\(mode.rawValue) guest needs what its source exposes"
            }
            return Rejection(target: target, filter: "cpu-features", reason: "CPU lacks \(list(missing)) (\(why))")
        }
    }

    static func bridge(_ n: GuestNeeds, _ p: TargetProfile, target: String) -> Rejection? {
        for b in n.bridges where !contains(p.bridges, b.name) {
            return Rejection(target: target, filter: "bridge", reason: "bridge \(b.name) missing" + mapped(b))
        }
        for net in n.networks where !contains(p.networks, net.name) {
            return Rejection(target: target, filter: "bridge", reason: "network \(net.name) missing" + mapped(net))
        }
        return nil
    }

    /// All static filters; the first that rejects.
    static func first(_ n: GuestNeeds, _ p: TargetProfile, target: String) -> Rejection? {
        arch(n, p, target: target) ?? cpu(n, p, target: target) ?? bridge(n, p, target: target)
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

    private static func contains(_ sorted: [String], _ x: String) -> Bool {
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
