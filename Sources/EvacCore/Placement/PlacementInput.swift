/// Turns a plan and an inventory into the inputs of the search: the guests that should move
/// (movers), the guests skipped or refused on their own account, and the target table.

/// One guest that should move, with what placement needs precomputed.
struct Mover {
    var name: String
    var uuid: String
    var source: String
    /// Position in as-listed order: plan source order, then guest order in the inventory.
    var listed: Int
    var memKiB: UInt64
    var vcpus: Int
    var mode: MigrationOptions.Mode
    var copyStorage: [String]
    /// The copied disks with their sizes (the storage-copy room filter's input).
    var copyLoads: [CopyLoad] = []
    /// Index into `PlacementInput.needs`.
    var needs: Int
    /// Indexes of the anti-affinity groups the guest belongs to.
    var groups: [Int]
    var pin: Pin
    /// `placement.priority`: higher is placed first when not every guest fits.
    var priority: Int = 0

    var mem: Int64 { Int64(clamping: memKiB) }

    enum Pin: Equatable {
        case none
        /// Pinned to this valid target.
        case target(Int)
        /// Pinned to a host that is not a usable target (every target rejects it with `pin`).
        case elsewhere(String)
    }
}

/// A guest refused before any target is looked at.
struct Refusal {
    var listed: Int
    var unplaceable: Unplaceable
}

/// Every host named as a target, and what placement may use of each.
struct TargetTable {
    enum Status { case valid(Int), source, unreachable(uri: String) }
    /// Every target name of the plan, sorted, with its status (the rows of a rejection list).
    var all: [(name: String, status: Status)]
    /// The usable targets (in the inventory and not a source), sorted by name; index = target id.
    var hosts: [HostInventory]
    var profiles: [TargetProfile]
    var index: [String: Int]
}

struct PlacementInput {
    var movers: [Mover] = []
    var needs: [GuestNeeds] = []
    var refused: [Refusal] = []
    var skipped: [SkippedGuest] = []
    var targets: TargetTable

    init(spec: PlanSpec, inventory: Inventory) {
        var byName: [String: HostInventory] = [:]
        for h in inventory.hosts { byName[h.name] = h }
        let sourceNames = Set(spec.sourceNames)
        var all: [(String, TargetTable.Status)] = []
        var valid: [HostInventory] = []
        for name in spec.targetNames.sorted() {
            if sourceNames.contains(name) {
                all.append((name, .source))
                continue
            }
            guard let h = byName[name] else {
                let uri =
                    inventory.unreachable.first { $0.name == name }?.uri ?? spec.host(name)?.uri ?? "not in inventory"
                all.append((name, .unreachable(uri: uri)))
                continue
            }
            all.append((name, .valid(valid.count)))
            valid.append(h)
        }
        var pools: [String: String] = [:]
        for h in spec.hosts { if let p = h.cpuPool { pools[h.name] = p } }
        var index: [String: Int] = [:]
        for (i, h) in valid.enumerated() { index[h.name] = i }
        targets = TargetTable(
            all: all, hosts: valid,
            profiles: valid.map { TargetProfile(host: $0, cpuPool: pools[$0.name]) }, index: index)

        // Two levels: the cheap per-guest key, then the full needs, so that guests of different
        // sources with equal needs still share one compatibility computation.
        var keyID: [NeedsKey: Int] = [:]
        var needsID: [GuestNeeds: Int] = [:]
        var seen = Set<String>()
        var listed = 0
        for (sourceNo, source) in spec.sourceNames.enumerated() where seen.insert(source).inserted {
            guard let host = byName[source] else { continue } // the CLI reports missing sources
            for g in host.guests {
                defer { listed += 1 }
                switch Self.classify(g, host: host, spec: spec) {
                case .skip(let why):
                    skipped.append(SkippedGuest(guest: g.name, uuid: g.uuid, source: source, why: why))
                case .refuse(let reason, let policy):
                    var u = Unplaceable(
                        guest: g.name, uuid: g.uuid, source: source, memoryKiB: g.memoryKiB, vcpus: g.vcpus,
                        guestReason: reason, candidates: [])
                    u.guestPolicy = policy
                    refused.append(Refusal(listed: listed, unplaceable: u))
                case .move(let mode, let copy):
                    let key = NeedsKey(
                        guest: g, source: sourceNo, sourcePools: host.storagePools, constraints: spec.constraints)
                    let id: Int
                    if let known = keyID[key] {
                        id = known
                    } else {
                        let n = GuestNeeds(
                            key: key, source: host, sourcePool: pools[source], constraints: spec.constraints)
                        if let known = needsID[n] {
                            id = known
                        } else {
                            id = needs.count
                            needsID[n] = id
                            needs.append(n)
                        }
                        keyID[key] = id
                    }
                    movers.append(
                        Mover(
                            name: g.name, uuid: g.uuid, source: source, listed: listed,
                            memKiB: g.memoryKiB, vcpus: g.vcpus, mode: mode, copyStorage: copy,
                            copyLoads: copy.isEmpty ? [] : CopyLoad.of(g),
                            needs: id, groups: Self.groups(of: g.name, spec),
                            pin: Self.pin(of: g.name, spec, index),
                            priority: spec.placement.priority(of: g.name)))
                }
            }
        }
    }

    enum Verdict { case skip(String), refuse(String, PolicyWaiver? = nil), move(MigrationOptions.Mode, copy: [String]) }

    /// Selection and guest-level migratability, in this order: excluded, stopped, transient,
    /// state, host devices, local disks.
    static func classify(_ g: Guest, host: HostInventory, spec: PlanSpec) -> Verdict {
        let sel = spec.select
        if !sel.include.isEmpty, !sel.include.contains(where: { $0.value.matches(g.name) }) { return .skip("excluded") }
        if sel.exclude.contains(where: { $0.value.matches(g.name) }) { return .skip("excluded") }
        // Before the state: libvirt refuses a guest with snapshots whichever way it moves.
        if let why = SnapshotRule.refusal(g) { return .refuse(why) }
        let mode: MigrationOptions.Mode
        if g.state == .unknown {
            return .refuse("state is unknown; cannot tell whether to move it live or as a definition")
        } else if !g.state.isActive {
            // A transient guest that is not running has no definition left to move.
            if sel.stopped == .skip || !g.persistent { return .skip("stopped") }
            mode = .offline
        } else {
            if !g.persistent, sel.transient == .skip { return .skip("transient") }
            let options = spec.migrationGroup(of: g.name)
            if (options?.options ?? spec.migration).mode == .offline {
                let key = options.map { "the mode of migration group '\($0.name)'" } ?? "migration.mode"
                return .refuse(
                    "is \(g.state.rawValue) and \(key) is offline; shut it down first or use live or paused")
            }
            mode = (options?.options ?? spec.migration).mode
            // A shut-off guest moves as a definition only, so its devices are re-bound on start.
            if let why = Migratability.liveRefusal(g, allowed: spec.constraints.allow) {
                return .refuse(why.reason, why.policy)
            }
        }
        let local = g.disks.filter { !$0.shared }
        if !local.isEmpty {
            if mode == .offline {
                // libvirt: "offline migration cannot handle non-shared storage" (it moves the
                // definition only, and copying storage needs a running QEMU on both sides).
                let what = local.map { "\($0.target) (\($0.source))" }.joined(separator: ", ")
                return .refuse(
                    "is shut off with local disk\(local.count > 1 ? "s" : "") \(what): libvirt cannot copy storage in an offline migration; start it to move it live with its disks, or skip stopped guests (select.stopped: skip)"
                )
            }
            guard spec.constraints.localStorage == .copy else {
                let what = local.map { "\($0.target) (\($0.source))" }.joined(separator: ", ")
                return .refuse(
                    "local disk\(local.count > 1 ? "s" : "") \(what) is not on shared storage; set constraints.local-storage: copy to copy it with the migration"
                )
            }
            // Read-only local disks (an ISO) are not copied: libvirt refuses to ("Cannot migrate
            // empty or read-only disk"); they must be at the same path on the target.
            return .move(mode, copy: CopyNeed.copied(g).map(\.target))
        }
        return .move(mode, copy: [])
    }

    static func groups(of name: String, _ spec: PlanSpec) -> [Int] {
        var out: [Int] = []
        for (i, g) in spec.constraints.antiAffinity.enumerated()
        where g.guests.contains(where: { $0.value.matches(name) }) {
            out.append(i)
        }
        return out
    }

    /// The first pin rule that matches wins.
    static func pin(of name: String, _ spec: PlanSpec, _ index: [String: Int]) -> Mover.Pin {
        guard let rule = spec.constraints.pins.first(where: { $0.guest.value.matches(name) }) else { return .none }
        return index[rule.host.value].map { .target($0) } ?? .elsewhere(rule.host.value)
    }
}
