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
    /// would be in a real run with everything in flight. Its `status` is how the apply would
    /// end if every host stayed as it is now (unplaceable guests aside: the CLI adds those).
    public func dryRun() async -> DryRunResult {
        let ledger = InFlightLedger()
        let specs = plan.applySpecs()
        // The same reading of the sources as the apply's first phase, and the same verdict on
        // one that does not answer: the apply would not start.
        let (down, guests) = await inspectSources(specs)
        let checks = Checks(hypervisor: hypervisor, policy: CheckPolicy(plan: plan), ledger: ledger, atStart: guests)
        var out: [DryRunCheck] = []
        for spec in specs {
            let problem = await checks.before(spec)
            out.append(
                DryRunCheck(
                    id: spec.id, guest: spec.guest, source: spec.source.name, target: spec.target.name, problem: problem
                ))
        }
        let status: RunStatus
        if options.requireReachableSources, down != nil {
            status = .cannotStart
        } else {
            status = out.contains { $0.problem != nil } ? .partial : .allDone
        }
        return DryRunResult(checks: out, status: status, message: status == .cannotStart ? down : nil)
    }
}

/// What `apply --dry-run` found: every migration's pre-checks, and how the apply would end.
public struct DryRunResult: Sendable, Hashable {
    /// One per migration, in plan order.
    public var checks: [DryRunCheck]
    /// allDone when every check passed, partial when some migration would be blocked,
    /// cannotStart when a source did not answer (the apply does not start then).
    public var status: RunStatus
    /// Why, for cannotStart.
    public var message: String?
    /// The migrations whose pre-checks did not all pass.
    public var blocked: [DryRunCheck] { checks.filter { $0.problem != nil } }
}
