import EvacCore

/// What the executor needs to run one step: a plan node, or its reverse for a rollback.
/// Not journaled: it is derived again from the plan file on every start.
struct StepSpec: Sendable {
    var kind: RunKind
    var id: Int
    var guest: String
    var uuid: String
    var source: HostEndpoint
    var target: HostEndpoint
    var memoryKiB: UInt64
    var vcpus: Int
    var mode: MigrationOptions.Mode
    var copyStorage: [String]
    /// Ids of steps (same kind) that must be done first.
    var after: [Int]
    var groups: [String]
    /// Among ready steps the lower rank starts first: the plan's order, reversed for rollback.
    var rank: Int

    func newRecord() -> StepRecord {
        StepRecord(kind: kind, id: id, guest: guest, uuid: uuid, source: source.name, target: target.name)
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
        graph.nodes.map { n in
            StepSpec(
                kind: .apply, id: n.id, guest: n.guest, uuid: n.uuid, source: endpoint(n.source),
                target: endpoint(n.target), memoryKiB: n.memoryKiB, vcpus: n.vcpus, mode: n.mode,
                copyStorage: n.copyStorage, after: n.after, groups: n.groups, rank: n.id)
        }
    }

    /// Rollback steps for the given apply ids: each guest goes back to its source. Edges are
    /// reversed (if B waited for A going out, A waits for B coming back) and the order too.
    func rollbackSpecs(ids: Set<Int>) -> [StepSpec] {
        var waitsFor: [Int: [Int]] = [:]
        for n in graph.nodes where ids.contains(n.id) {
            for a in n.after where ids.contains(a) { waitsFor[a, default: []].append(n.id) }
        }
        return graph.nodes.filter { ids.contains($0.id) }.reversed().map { n in
            StepSpec(
                kind: .rollback, id: n.id, guest: n.guest, uuid: n.uuid, source: endpoint(n.target),
                target: endpoint(n.source), memoryKiB: n.memoryKiB, vcpus: n.vcpus, mode: n.mode,
                copyStorage: n.copyStorage, after: (waitsFor[n.id] ?? []).sorted(), groups: n.groups,
                rank: -n.id)
        }
    }
}
