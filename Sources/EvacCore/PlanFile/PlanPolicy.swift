/// The plan's decisions a run acts on besides its graph, saved in the plan file as one value:
/// what the executor re-checks against a target right before each migration, how it
/// migrates, and what it does after a failure. Every member but `migrationGroups` is required
/// in the file (a plan file of another format version is refused before it is decoded as this
/// one), so a run never fills in a default the planner did not choose; `migrationGroups` is
/// absent when the plan has none, so that such plans keep their bytes and their hash.
public struct PlanPolicy: Codable, Hashable, Sendable {
    /// The plan's constraints the executor checks again against each target's live inventory
    /// right before a migration to it starts.
    public var constraints: TargetConstraints
    /// The options of every migration whose node names no `migrationGroup`.
    public var migration: MigrationOptions
    /// The plan's `migration.groups`, each with its guests' effective options; a node's
    /// `migrationGroup` names one. nil when the plan has none.
    public var migrationGroups: [MigrationGroup]?
    /// The plan's `on-failure`: whether the run starts new migrations after one failed.
    public var onFailure: OnFailure

    /// A policy from its parts; each part defaults to the plan language's default.
    public init(
        constraints: TargetConstraints = TargetConstraints(), migration: MigrationOptions = MigrationOptions(),
        migrationGroups: [MigrationGroup]? = nil, onFailure: OnFailure = .continue
    ) {
        self.constraints = constraints
        self.migration = migration
        self.migrationGroups = migrationGroups
        self.onFailure = onFailure
    }

    /// The policy of a plan as the operator wrote it.
    public init(spec: PlanSpec) {
        self.init(
            constraints: TargetConstraints(spec.constraints), migration: spec.migration,
            migrationGroups: spec.migrationGroups.isEmpty ? nil : spec.migrationGroups.map(MigrationGroup.init),
            onFailure: spec.onFailure)
    }

    /// The plan's options and its groups', looked up by node.
    public var migrationOptions: MigrationOptionSet {
        MigrationOptionSet(plan: migration, groups: migrationGroups ?? [])
    }

    /// The options the migration of `node` runs with: its group's, or the plan's.
    public func options(for node: MigrationGraph.Node) -> MigrationOptions { migrationOptions.options(for: node) }

    /// The policy with `change` applied to the plan's options and to every group's (a command's
    /// `--bandwidth` holds for every migration of the run).
    public func changingMigrationOptions(_ change: (MigrationOptions) -> MigrationOptions) -> PlanPolicy {
        var copy = self
        copy.migration = change(migration)
        copy.migrationGroups = migrationGroups?.map {
            var g = $0
            g.options = change(g.options)
            return g
        }
        return copy
    }

    /// What is out of range (empty when all is well): a plan file is input too.
    public var problems: [String] {
        var out = constraints.problems + migration.problems
        var names = Set<String>()
        for g in migrationGroups ?? [] {
            let name = TerminalText.escape(g.name)
            if !names.insert(g.name).inserted { out.append("migration group '\(name)' is listed twice") }
            out += g.options.problems.map { "migration group '\(name)': \($0)" }
        }
        return out
    }
}

/// The part of the plan's `Constraints` that holds at every target while the run goes on, and
/// that the executor checks again against the target's live inventory: the rest is decided by
/// placement and saved with it (pins and local storage in the placements, anti-affinity in
/// the graph's limits).
public struct TargetConstraints: Codable, Hashable, Sendable {
    /// `constraints.cpu`: how the target's CPU is checked against the guest's (compatible, pool
    /// or ignore).
    public var cpu: Constraints.CPUPolicy
    /// `constraints.bridges`: whether every bridge or network the guest uses must exist on the
    /// target (after `bridgeMap`).
    public var bridges: Constraints.BridgePolicy
    /// Source bridge or network name -> name on the target; written into the destination XML.
    public var bridgeMap: [String: String]
    /// Memory kept free on every target, KiB (`constraints.memory-reserve`, rounded up).
    public var memoryReserveKiB: UInt64
    /// Maximum guest vCPUs per host logical CPU; nil = unlimited.
    public var maxVCPURatio: Double?
    /// `constraints.allow`: the evac policies the plan waives (sorted), which the pre-check
    /// waives too; nil (absent in the file, so older plans keep their bytes) when none.
    public var allow: [PolicyWaiver]?

    /// Constraints from their parts; each defaults to the plan language's default (no reserve,
    /// no ratio limit, nothing waived).
    public init(
        cpu: Constraints.CPUPolicy = .compatible, bridges: Constraints.BridgePolicy = .match,
        bridgeMap: [String: String] = [:], memoryReserveKiB: UInt64 = 0, maxVCPURatio: Double? = nil,
        allow: [PolicyWaiver] = []
    ) {
        self.cpu = cpu
        self.bridges = bridges
        self.bridgeMap = bridgeMap
        self.memoryReserveKiB = memoryReserveKiB
        self.maxVCPURatio = maxVCPURatio
        self.allow = allow.isEmpty ? nil : Array(Set(allow)).sorted { $0.rawValue < $1.rawValue }
    }

    /// The part of `c` that the executor re-checks; the memory reserve is rounded up to KiB.
    public init(_ c: Constraints) {
        self.init(
            cpu: c.cpu, bridges: c.bridges, bridgeMap: c.bridgeMap,
            memoryReserveKiB: (c.memoryReserveBytes + 1023) / 1024, maxVCPURatio: c.maxVCPURatio, allow: c.allow)
    }

    /// Whether the plan waives `policy`.
    public func allows(_ policy: PolicyWaiver) -> Bool { allow?.contains(policy) ?? false }

    var problems: [String] {
        guard let r = maxVCPURatio, !(r.isFinite && r > 0 && r < 1e9) else { return [] }
        return ["max-vcpu-ratio is not a number from 0 to 1e9"]
    }
}

extension Constraints.CPUPolicy: Codable {}
extension Constraints.BridgePolicy: Codable {}
