import EvacCore

/// What the executor needs to run one step: a plan node, or its reverse for a rollback.
/// Not journaled: it is derived again from the plan file on every start.
struct StepSpec: Sendable {
    var kind: RunKind
    /// The plan's migration this step runs, as placement decided it (for a rollback, the one it
    /// undoes: `source` and `target` are then the node's target and source).
    var node: MigrationGraph.Node
    var source: HostEndpoint
    var target: HostEndpoint
    /// Ids of steps (same kind) that must be done first.
    var after: [Int]
    /// Among ready steps the lower rank starts first: the plan's order, reversed for rollback.
    var rank: Int
    /// The options this migration runs with: its `migration.groups` entry's, or the plan's
    /// (a rollback moves the guest back with the same).
    var options: MigrationOptions

    var id: Int { node.id }
    var guest: String { node.guest }
    var uuid: String { node.uuid }
    var memoryKiB: UInt64 { node.memoryKiB }
    var vcpus: Int { node.vcpus }
    var mode: MigrationOptions.Mode { node.mode }
    var copyStorage: [String] { node.copyStorage }
    var groups: [String] { node.groups }

    /// The journal's row for this step before it first starts: the guest and the direction of
    /// this step (a rollback's source is its apply's target).
    func newRecord() -> StepRecord {
        StepRecord(kind: kind, id: id, guest: guest, uuid: uuid, source: source.name, target: target.name)
    }

    /// What the hypervisor is asked to do for this step: its guest between this step's endpoints,
    /// `mode` the attempt's (the convergence ladder's fallback moves it paused), with this step's
    /// options.
    func request(mode: MigrationOptions.Mode, bridgeMap: [String: String]) -> MigrationRequest {
        MigrationRequest(
            guestUUID: uuid, guestName: guest, source: source, target: target, mode: mode, options: options,
            copyStorage: copyStorage, bridgeMap: bridgeMap)
    }
}

extension PlanFile {
    /// The host as the executor reaches it, with its `migrate-uri` (used when it is the target:
    /// for a rollback, the guest's home host).
    func endpoint(_ host: String) -> HostEndpoint {
        let ref = hosts.first { $0.name == host }
        return HostEndpoint(name: host, uri: ref?.uri ?? "", migrateURI: ref?.migrateURI)
    }

    /// Apply steps in the plan's order.
    func applySpecs() -> [StepSpec] {
        let options = policy.migrationOptions
        return graph.nodes.map { n in
            StepSpec(
                kind: .apply, node: n, source: endpoint(n.source), target: endpoint(n.target), after: n.after,
                rank: n.id, options: options.options(for: n))
        }
    }

    /// Rollback steps for the given apply ids: each guest goes back to its source. Edges are
    /// reversed (if B waited for A going out, A waits for B coming back) and the order too.
    func rollbackSpecs(ids: Set<Int>) -> [StepSpec] {
        var waitsFor: [Int: [Int]] = [:]
        for n in graph.nodes where ids.contains(n.id) {
            for a in n.after where ids.contains(a) { waitsFor[a, default: []].append(n.id) }
        }
        let options = policy.migrationOptions
        return graph.nodes.filter { ids.contains($0.id) }.reversed().map { n in
            StepSpec(
                kind: .rollback, node: n, source: endpoint(n.target), target: endpoint(n.source),
                after: (waitsFor[n.id] ?? []).sorted(), rank: -n.id, options: options.options(for: n))
        }
    }
}
