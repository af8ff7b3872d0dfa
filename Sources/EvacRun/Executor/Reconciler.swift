import EvacCore

/// After a crash or a partial run: where is each guest really? Looks every unsettled step's
/// guest up by UUID on its source and target and decides, never moving anything:
/// - on the target (source copy gone or only an inactive definition) → done;
/// - on the source only → a `running` step goes back to pending (retried; never migrated twice);
/// - an outgoing migration job on the source (libvirt's job state), active on the source and
///   paused on the target (memory being copied), paused on the source and running on the target
///   (switched over, the source not yet confirmed and removed), or a host that cannot answer
///   about the guest for now: a migration still in progress (after kill -9 the source daemon
///   goes on by itself) — wait for it to land or fail (at most `waitLimit`), then decide as below;
/// - still an outgoing migration job on the source when the wait ends, or active on the source
///   and present on the target → failed, needs attention (saying how long evac waited), never
///   touched;
/// - on neither → failed, "guest lost?", loudly;
/// - a host does not answer → a `running` step becomes blocked (we cannot tell), others stay.
///
/// With `accounting` (a rollback accounting for every guest an apply attempted), what needs
/// attention is reported every time, not only when it first changes the journal, and so is an
/// attempted step whose host does not answer and whose guest is not seen active on its source:
/// that guest may be on its target, so the rollback cannot call itself complete.
struct Reconciler: Sendable {
    let hypervisor: any Hypervisor
    let concurrency: Int
    /// How long to wait for a migration still in progress (see ExecutorOptions.inTransitWait).
    let inTransitWait: Duration
    /// The command that looks again once a host answers ("resume", "rollback").
    var again = "resume"
    var accounting = false
    /// Tells the operator while the reconciler waits for a migration still in progress.
    var notify: (@Sendable (String) -> Void)? = nil

    struct Finding: Sendable {
        /// nil when the journal keeps the step as it is but the operator must hear about it.
        var transition: StepTransition?
        /// Something the operator must read, printed as a notice.
        var loud: Bool
        /// The step's record after the finding (the transition's, or the unchanged one).
        var step: StepRecord
        /// What the notice says.
        var text: String
        /// A migration of the guest is still under way (the wait for it ended first): this run
        /// must not retry the step, a second migration of a guest libvirt is migrating.
        var stillMoving = false
    }

    func reconcile(_ records: [StepRecord], specs: [Int: StepSpec]) async -> [Finding] {
        let work = records.filter { !$0.state.isSettled && specs[$0.id] != nil }
        var out: [Finding] = []
        await withTaskGroup(of: Finding?.self) { group in
            var next = 0
            func add(_ g: inout TaskGroup<Finding?>) {
                let r = work[next]
                let s = specs[r.id]!
                next += 1
                g.addTask { await self.one(r, s) }
            }
            while next < work.count && next < max(1, concurrency) { add(&group) }
            while let f = await group.next() {
                if let f { out.append(f) }
                if next < work.count { add(&group) }
            }
        }
        return out.sorted { $0.step.id < $1.step.id }
    }

    private func one(_ r: StepRecord, _ s: StepSpec) async -> Finding? {
        let seen = await settle(r, s)
        let (src, tgt) = (seen.source, seen.target)
        func to(_ state: StepState, _ why: String, loud: Bool = false, error: String? = nil) -> Finding? {
            if state == r.state && why == r.reason {
                return loud && accounting ? Finding(transition: nil, loud: true, step: r, text: why) : nil
            }
            var n = r
            n.state = state
            n.reason = why
            if state != .pending { n.finished = n.finished ?? Timestamp.now() }
            return Finding(
                transition: StepTransition(
                    step: n, from: r.state, message: "reconcile: \(why)",
                    hypervisorError: error), loud: loud, step: n, text: why)
        }
        if OfflineMove.isMarked(r) { return offline(r, s, src, tgt, to: to) }
        switch (src, tgt) {
        case (.failure(let e), _), (_, .failure(let e)):
            let why = "cannot tell where \(s.guest) is: \(Checks.describe(e)); \(again) again when it answers"
            if r.state == .running { return to(.blocked, why, loud: true, error: e.journalRecord) }
            guard accounting, r.attempt > 0, !Self.activeOn(src) else { return nil }
            return Finding(transition: nil, loud: true, step: r, text: why)
        case (.success(.present(let ss, _)), .success(let target)) where ss.isActive && seen.job != nil:
            var on = "not on \(s.target.name)"
            if case .present(let ts, _) = target { on = "\(ts.rawValue) on \(s.target.name)" }
            var f = to(
                .failed,
                "\(s.guest) is \(ss.rawValue) on \(s.source.name) and \(on), and \(s.source.name) still reports "
                    + "\(seen.job?.description ?? "a job") for it\(seen.waitedText): needs attention; "
                    + "evac will not touch it while that job runs (run evac resume once it has ended)",
                loud: true)
            f?.stillMoving = true
            return f
        case (.success(.present(let ss, _)), .success(.present(let ts, _))) where ss.isActive:
            return to(
                .failed,
                "\(s.guest) is \(ss.rawValue) on \(s.source.name) and \(ts.rawValue) on \(s.target.name)\(seen.waitedText): "
                    + "needs attention (a migration may still be in progress); evac will not touch it", loud: true)
        case (.success(let source), .success(.present)):
            let note = source == .absent ? "" : "; an inactive definition is left on \(s.source.name)"
            let why =
                r.state == .running
                ? "completed after the crash (found on \(s.target.name))"
                : "found on \(s.target.name)"
            return to(.done, why + note)
        case (.success(.present), .success(.absent)):
            guard r.state == .running else { return nil }
            return to(.pending, "interrupted: found on \(s.source.name), not on \(s.target.name); will be retried")
        case (.success(.absent), .success(.absent)):
            return to(
                .failed, "guest lost? \(s.guest) (\(s.uuid)) is on neither \(s.source.name) nor \(s.target.name)",
                loud: true)
        }
    }

    /// A step the offline fallback left unfinished (killed, or a sub-step failed): done when the
    /// guest runs on the target (and the source holds no definition the plan removes), else
    /// pending with the marker, so that the walk finishes the move from where the guest is.
    private func offline(
        _ r: StepRecord, _ s: StepSpec, _ src: Result<GuestPresence, HypervisorError>,
        _ tgt: Result<GuestPresence, HypervisorError>,
        to: (StepState, String, Bool, String?) -> Finding?
    ) -> Finding? {
        switch (src, tgt) {
        case (.failure(let e), _), (_, .failure(let e)):
            let why =
                OfflineMove.marker
                + "cannot tell where \(s.guest) is: \(Checks.describe(e)); \(again) again finishes the move when it answers"
            return to(.blocked, why, true, e.journalRecord)
        case (.success(let source), .success(let target)):
            let next = OfflineMove.next(
                source: source, target: target, keepsSource: !s.options.undefineSource, guest: s.guest)
            switch next {
            case .done:
                return to(
                    .done, "moved offline (the convergence ladder's fallback): found running on \(s.target.name)",
                    false, nil)
            case .attention(let why): return to(.failed, why, true, nil)
            case .shutdown, .move, .undefineSource, .start:
                let left = source == .absent ? "defined on \(s.target.name)" : "on \(s.source.name)"
                return to(
                    .pending, OfflineMove.marker + "interrupted (\(s.guest) is \(left)); \(again) finishes the move",
                    false, nil)
            }
        }
    }

    private static func activeOn(_ r: Result<GuestPresence, HypervisorError>) -> Bool {
        if case .success(.present(let state, _)) = r { return state.isActive }
        return false
    }

    /// What the hosts say about a step's guest, once no migration of it is seen under way (or
    /// the wait for one ended).
    struct Sighting {
        var source: Result<GuestPresence, HypervisorError>
        var target: Result<GuestPresence, HypervisorError>
        /// The outgoing migration job the source still reports at the end (nil: none).
        var job: GuestJob?
        /// How long the reconciler waited for a migration in progress; nil when it did not.
        var waited: Duration?

        /// " after evac waited 600 s for the migration to end", or "" when it did not wait.
        var waitedText: String {
            waited.map { " after evac waited \($0.components.seconds) s for the migration to end" } ?? ""
        }
    }

    /// After kill -9 the source daemon goes on with a peer-to-peer migration by itself: the
    /// source then reports an outgoing migration job for the guest, or the guest is active on
    /// the source and paused (incoming) on the target, or a host cannot answer about it for the
    /// moment. Waits (at most `waitLimit`) for that to end, then returns what the hosts say.
    /// The job is read before the guest's states, so that states read after "no job" are final,
    /// not a picture taken halfway through the switch-over (running on both hosts, seen over ssh).
    private func settle(_ r: StepRecord, _ s: StepSpec) async -> Sighting {
        let clock = ContinuousClock()
        let start = clock.now
        let limit = waitLimit(s)
        var announced = false
        while true {
            let job = r.state == .running ? await outgoingJob(s) : nil
            let (src, tgt) = await lookBoth(s)
            let moving = r.state == .running && (job != nil || Self.inTransit(src, tgt))
            let waited = clock.now - start
            if !moving || waited >= limit || Task.isCancelled {
                return Sighting(source: src, target: tgt, job: job, waited: announced ? waited : nil)
            }
            if !announced {
                announced = true
                let what = job.map { "\(s.source.name) reports \($0.description)" } ?? "it is on both hosts"
                notify?(
                    "\(s.guest): a migration to \(s.target.name) is still in progress (\(what)); "
                        + "waiting up to \(limit.components.seconds) s for it to end")
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// How long to wait for a step's migration still in progress: `inTransitWait`, or the plan's
    /// migration timeout for this guest when shorter (the killed evac would have aborted the
    /// migration by then; the source daemon does not).
    func waitLimit(_ s: StepSpec) -> Duration {
        guard let t = s.options.timeout else { return inTransitWait }
        return min(inTransitWait, .milliseconds(Int64(clamping: t.milliseconds(forMemoryKiB: s.memoryKiB))))
    }

    /// The source's job on the guest when it may be the migration off it; nil for none, for
    /// another kind of job, and when the source cannot tell (its states then decide).
    private func outgoingJob(_ s: StepSpec) async -> GuestJob? {
        guard case .some(.some(let job)) = try? await hypervisor.activeJob(guestUUID: s.uuid, on: s.source) else {
            return nil
        }
        return job.mayBeOutgoingMigration ? job : nil
    }

    private func lookBoth(
        _ s: StepSpec
    ) async -> (Result<GuestPresence, HypervisorError>, Result<GuestPresence, HypervisorError>) {
        async let onSource = look(s.uuid, s.source)
        async let onTarget = look(s.uuid, s.target)
        return await (onSource, onTarget)
    }

    static func inTransit(
        _ src: Result<GuestPresence, HypervisorError>, _ tgt: Result<GuestPresence, HypervisorError>
    ) -> Bool {
        switch (src, tgt) {
        case (.failure(let e), _), (_, .failure(let e)): return e.kind != .unreachable && e.kind != .interrupted
        case (.success(.present(let ss, _)), .success(.present(let ts, _))):
            // Copying (the incoming guest is paused), or switched over and awaiting the source's
            // confirm phase, which stops and undefines the source copy (seen on the lab).
            return (ss.isActive && ts == .paused) || (ss == .paused && ts == .running)
        default: return false
        }
    }

    private func look(_ uuid: String, _ host: HostEndpoint) async -> Result<GuestPresence, HypervisorError> {
        do { return .success(try await hypervisor.locate(guestUUID: uuid, on: host)) } catch { return .failure(error) }
    }
}
