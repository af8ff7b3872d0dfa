import EvacCore

/// The outcome of one migration's pre-checks in a dry run.
public struct DryRunCheck: Sendable, Hashable, Codable {
    public var id: Int
    public var guest: String
    public var source: String
    public var target: String
    /// nil when every check passed; otherwise why the migration would be blocked.
    public var problem: String?
}

extension Executor {
    /// `apply --dry-run`: runs every pre-check of every migration, in plan order, against the
    /// live hosts, and changes nothing (no journal, no migration). Checks that pass reserve
    /// room on their target, so later ones see the earlier ones as already committed, as they
    /// would be in a real run with everything in flight.
    public func dryRun() async -> [DryRunCheck] {
        let ledger = InFlightLedger()
        var guests: [String: GuestAtSource] = [:]
        for source in Set(plan.graph.nodes.map(\.source)).sorted() {
            guard let uri = plan.uri(of: source),
                let inv = try? await hypervisor.inspect(HostEndpoint(name: source, uri: uri))
            else { continue }
            for g in inv.guests { guests[g.uuid] = GuestAtSource(guest: g, source: inv) }
        }
        let checks = Checks(hypervisor: hypervisor, policy: CheckPolicy(plan: plan), ledger: ledger, atStart: guests)
        var out: [DryRunCheck] = []
        for spec in plan.applySpecs() {
            let problem = await checks.before(spec)
            out.append(
                DryRunCheck(
                    id: spec.id, guest: spec.guest, source: spec.source.name, target: spec.target.name, problem: problem
                ))
        }
        return out
    }
}
