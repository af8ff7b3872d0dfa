import EvacCore

/// What a rollback does before it moves anything: account for every guest the plan's apply
/// touched, so that a crash at any instant (kill -9, exit 5, a host that stopped answering)
/// never leaves a guest on its target with a rollback that says "nothing to roll back".
///
/// An apply step attempted but not settled (running, failed, blocked or pending again with
/// attempt ≥ 1) is looked up by UUID on its source S and target T first (the `Reconciler`, in
/// accounting mode); a step that never started (attempt 0) was never moved by the plan. Then the
/// rollback returns every apply step that is `done` plus every guest it already began to return.
/// A rollback step that ends `done` — by a migration or by its own reconcile — marks its apply
/// step `rolled-back` in the same transaction, so `status`, the archive (`RunStanding`) and
/// `resume` read one story.
///
/// Every pair of journal states, and where the guest really is (S home, T the plan's target):
///
/// | apply step                 | rollback step        | guest is              | the rollback                                      |
/// |----------------------------|----------------------|-----------------------|---------------------------------------------------|
/// | pending/blocked, attempt 0 | none                 | on S                  | leaves it: the plan never moved it                |
/// | running                    | none                 | on S                  | apply → pending (interrupted); nothing to return  |
/// | running                    | none                 | on T                  | apply → done (landed after the crash); returns it |
/// | running                    | none                 | copying / confirming  | waits (bounded) for it to land or fail, then as above |
/// | running                    | none                 | no answer from a host | apply → blocked "cannot tell"; partial, never all-done |
/// | failed/blocked/pending, attempted | none          | on S                  | leaves it (the failure stays recorded)            |
/// | failed/blocked/pending, attempted | none          | on T                  | apply → done (found on T); returns it             |
/// | failed/blocked/pending, attempted | none          | no answer, not on S   | reported; partial                                 |
/// | any attempted              | none                 | active on S and on T  | apply → failed "needs attention"; not touched; partial |
/// | any attempted              | none                 | on neither            | apply → failed "guest lost?", loud; partial       |
/// | done                       | none/pending         | on T                  | migrates T → S; done ⇒ apply rolled-back          |
/// | done                       | none/pending         | on S                  | rollback → done (found on S) ⇒ apply rolled-back  |
/// | done                       | running              | on T                  | rollback → pending, then migrated T → S           |
/// | done                       | running              | on S                  | rollback → done (landed after the crash) ⇒ apply rolled-back |
/// | done                       | running              | copying / confirming  | waits, then as above                              |
/// | done                       | failed/blocked       | on T / on S           | retried / done ⇒ rolled-back                      |
/// | done                       | any unsettled        | on both / neither / no answer | failed "needs attention" / "lost?" / blocked; partial |
/// | done                       | done                 | on S                  | apply → rolled-back (a journal from before this rule) |
/// | rolled-back                | done                 | on S                  | settled: nothing                                  |
///
/// The rollback is all-done only when every row it touched ended on S and nothing above said
/// "partial"; only then is the run over (`RunStanding.rolledBack`). `resume` of a journal whose
/// rollback began continues the rollback, and refuses once it is over.
struct RollbackPreflight: Sendable {
    let plan: PlanFile
    let hypervisor: any Hypervisor
    let options: ExecutorOptions

    struct Result: Sendable {
        /// Apply ids whose guest this rollback returns.
        var ids: Set<Int> = []
        /// Apply-step changes, written with the rollback's run row.
        var transitions: [StepTransition] = []
        var notices: [String] = []
        /// Apply steps whose guest cannot be accounted for now: the rollback is not complete.
        var problems: [StepRecord] = []
        /// The apply steps as the preflight leaves them, by id.
        var applied: [Int: StepRecord] = [:]
    }

    func run(apply: [StepRecord], rollback: [StepRecord]) async -> Result {
        var out = Result()
        var byID = Dictionary(apply.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let specs = Dictionary(plan.applySpecs().map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let attempted = apply.filter { $0.attempt > 0 && !$0.state.isSettled }
        let findings = await Reconciler(
            hypervisor: hypervisor, concurrency: options.reconcileConcurrency,
            inTransitWait: options.inTransitWait, again: "rollback", accounting: true
        )
        .reconcile(attempted, specs: specs)
        for f in findings {
            if let t = f.transition {
                out.transitions.append(t)
                byID[t.step.id] = t.step
            }
            guard f.loud else { continue }
            out.notices.append("\(f.step.guest): \(f.text)")
            var p = f.step
            p.reason = f.text
            out.problems.append(p)
        }
        for r in rollback where r.state == .done {
            guard var a = byID[r.id], a.state == .done else { continue }
            a.state = .rolledBack
            a.reason = "returned to \(r.target) by rollback"
            out.transitions.append(StepTransition(step: a, from: .done, message: a.reason!))
            byID[a.id] = a
        }
        out.ids = Set(byID.values.filter { $0.state == .done }.map(\.id)).union(rollback.map(\.id))
        out.applied = byID
        return out
    }

    /// The transitions written with a rollback step's `done`: its apply step → rolled-back.
    static func companions(applied: [Int: StepRecord]) -> @Sendable (StepRecord) -> [StepTransition] {
        { back in
            guard var a = applied[back.id], a.state == .done else { return [] }
            a.state = .rolledBack
            a.reason = "returned to \(back.target) by rollback"
            return [StepTransition(step: a, from: .done, message: a.reason!)]
        }
    }
}
