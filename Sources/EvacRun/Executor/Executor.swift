import EvacCore
import Foundation

/// Which failed or blocked steps a resume retries.
public enum RetrySelection: Sendable, Hashable {
    case all
    /// Only these guests (and the steps blocked behind them); other failed/blocked steps stay.
    case guests(Set<String>)
    /// Reconcile and run pending steps only.
    case none
}

public struct ExecutorOptions: Sendable {
    /// Recorded in the journal's run row.
    public var command: String = CommandLine.arguments.joined(separator: " ")
    /// Lookups in flight at once while reconciling.
    public var reconcileConcurrency: Int = 32
    /// Refuse to start when a source does not answer (the issue's "cannot start" status).
    public var requireReachableSources: Bool = true
    /// How long a resume waits for a migration that outlived the process that started it
    /// (after kill -9 the source daemon goes on with a peer-to-peer migration by itself).
    public var inTransitWait: Duration = .seconds(600)
    public init() {}
}

/// Walks a plan's DAG through a `Hypervisor`, journaling every transition; see DESIGN.md.
///
/// One executor per invocation: `apply`, `resume` or `rollback`, once. `requestStop` may be
/// called from any thread (signal handlers): graceful = start nothing new and let in-flight
/// migrations finish; forced = also abort the in-flight ones. Aborted steps go back to
/// `pending` (not `failed`): the operator stopped them, the guest is intact on its source,
/// and every resume retries pending steps whatever guests it is told to retry.
public actor Executor {
    let plan: PlanFile
    let hypervisor: any Hypervisor
    let journal: any RunJournal
    let observer: any RunObserver
    let options: ExecutorOptions
    let coordinator: any RunCoordinator
    let control = StopControl()
    let ledger = InFlightLedger()

    /// `coordinator`: what other runs of the fleet hold on the targets (a coordinator's
    /// `RunCoordinator` with its journal); the default, LocalCoordinator, knows of no other run.
    public init(
        plan: PlanFile, hypervisor: any Hypervisor, journal: any RunJournal,
        observer: any RunObserver = NullObserver(), options: ExecutorOptions = ExecutorOptions(),
        coordinator: any RunCoordinator = LocalCoordinator()
    ) {
        self.plan = plan
        self.hypervisor = hypervisor
        self.journal = journal
        self.observer = observer
        self.options = options
        self.coordinator = coordinator
    }

    /// Says what a stop does, as it happens: the operator pressed Ctrl-C and must know whether
    /// to wait or press again.
    public nonisolated func requestStop(graceful: Bool) {
        let inFlight = control.request(graceful: graceful)
        if graceful {
            observer.handle(
                .notice(
                    inFlight == 0
                        ? "stopping: no new migration starts; none in flight; the run ends as soon as the hosts being asked have answered or are given up"
                        : "stopping: no new migration starts; \(inFlight) in flight will finish; press Ctrl-C again to abort them"
                ))
        } else {
            observer.handle(
                .notice(
                    "aborting \(inFlight) migration(s) in flight; their guests stay on their sources; `evac resume` continues the run"
                ))
        }
    }

    /// A first run of the plan. Refuses (cannotStart) when the journal already has one: use resume.
    public func apply() async -> RunResult {
        await execute(kind: .apply, fresh: true, retry: .none)
    }

    /// Continues what the journal's last command left unfinished. Normally that is the apply:
    /// reconcile the journal with the hosts, then run pending steps and the selected failed ones
    /// (on a journal with no run yet it is the same as `apply`). But once a rollback has begun,
    /// the run is going home: resume continues the rollback (saying so) and never the apply, so
    /// it cannot report all-done while guests wait to be returned; and a run whose rollback is
    /// complete has nothing to resume (cannotStart, naming `apply` as the way to run it again).
    public func resume(retry: RetrySelection = .all) async -> RunResult {
        switch await standing() {
        case .failure(let e):
            return RunResult(status: .cannotStart, message: "\(e)")
        case .success(.rollingBack):
            observer.handle(
                .notice(
                    "the rollback of \(plan.planName) is unfinished: resume continues the rollback "
                        + "(what `evac rollback` does), not the apply"))
            return await rollback(retry: retry)
        case .success(.rolledBack(let why)):
            return RunResult(
                status: .cannotStart,
                message: "nothing to resume: the run of \(plan.planName) is over (\(why)); "
                    + "`evac apply` of the plan starts a new run")
        case .success:
            return await execute(kind: .apply, fresh: false, retry: retry)
        }
    }

    /// Reconciles the journal with the hosts and writes what it found, starting nothing
    /// (for `status --check`, dry runs, and timing the reconcile).
    public func reconcileOnly() async -> RunResult {
        await execute(kind: .apply, fresh: false, retry: .none, startMigrations: false)
    }

    /// Moves every guest this plan moved back to its source, in reverse order under the same
    /// limits and checks. Resumable: run it again (or `resume`) to continue. See
    /// `RollbackPreflight` for how it finds the guests a crash left on their targets.
    public func rollback(retry: RetrySelection = .all) async -> RunResult {
        await execute(kind: .rollback, fresh: false, retry: retry)
    }

    /// Where the journal's run stands (RunStanding), from its rows.
    func standing() async -> Result<RunStanding, Error> {
        do {
            return .success(
                RunStanding.of(
                    runs: try await journal.runs(), apply: try await journal.steps(kind: .apply),
                    rollback: try await journal.steps(kind: .rollback)))
        } catch { return .failure(error) }
    }

    private func execute(
        kind: RunKind, fresh: Bool, retry: RetrySelection, startMigrations: Bool = true
    ) async -> RunResult {
        let clock = ContinuousClock()
        let started = clock.now
        // 1. Read what the journal knows; for a rollback, find first where the guests the apply
        //    touched are (RollbackPreflight). Then open a run row with the steps the journal
        //    does not have yet and what the preflight found, in one batch.
        let runID: Int
        var records: [Int: StepRecord]
        let specs: [StepSpec]
        var preflight = RollbackPreflight.Result()
        var hookState = HookJournalState()
        do {
            runID = (try await journal.runs().map(\.id).max() ?? 0) + 1
            if plan.hooks != nil { hookState = try await journal.hookState() }
            let existing = try await journal.steps(kind: kind)
            if fresh && !existing.isEmpty {
                return RunResult(
                    status: .cannotStart,
                    message: "journal \(journal.path) already records a run of this plan; "
                        + "use resume to continue it, or status to see it")
            }
            if kind == .rollback {
                preflight = await RollbackPreflight(plan: plan, hypervisor: hypervisor, options: options)
                    .run(apply: try await journal.steps(kind: .apply), rollback: existing)
                specs = plan.rollbackSpecs(ids: preflight.ids)
            } else {
                specs = plan.applySpecs()
            }
            // Journal rows and plan files are input: a duplicate id keeps its first entry, never traps.
            records = Dictionary(existing.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            let new = specs.filter { records[$0.id] == nil }.map { $0.newRecord() }
            for r in new { records[r.id] = r }
            let run = RunRecord(
                id: runID, kind: kind, planHash: plan.planHash, planName: plan.planName,
                started: Timestamp.now(), command: options.command)
            try await journal.commit(
                JournalBatch(
                    runID: runID, beginRun: run, insertSteps: new,
                    transitions: preflight.transitions))
        } catch {
            return RunResult(status: .cannotStart, message: "\(error)")
        }
        let specByID = Dictionary(specs.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        observer.handle(
            .runStarted(
                RunStart(
                    kind: kind, planName: plan.planName, planHash: plan.planHash,
                    journal: journal.path, runID: runID, steps: specs.count,
                    alreadyDone: specs.filter { records[$0.id]?.state.isSettled == true }.count)))
        // After runStarted, so that a display knows these apply-step events are not its run's.
        announce(preflight)
        let companions = RollbackPreflight.companions(applied: kind == .rollback ? preflight.applied : [:])
        // What this process saw happen that the journal could not record (exit 5): the summary
        // tells it, and resume reconciles it.
        var unrecorded: [Int: StepRecord] = [:]
        func finish(_ status: RunStatus, _ message: String?, extra: [StepTransition] = []) async -> RunResult {
            var mine = specs.compactMap { records[$0.id] }
            var status = status
            var message = message
            if status == .allDone, !preflight.problems.isEmpty {
                status = .partial
                message = "\(preflight.problems.count) guest(s) of the apply could not be accounted for"
            }
            if status != .journalFailed {
                do {
                    try await journal.commit(
                        JournalBatch(
                            runID: runID, transitions: extra,
                            finishRun: (Timestamp.now(), status.rawValue)))
                } catch {
                    return await finish(.journalFailed, "\(error)")
                }
            } else {
                mine = mine.map { unrecorded[$0.id] ?? $0 }
                message = Self.journalFailure(message, unrecorded: unrecorded.values.sorted { $0.id < $1.id })
            }
            let ms = UInt64((clock.now - started) / .milliseconds(1))
            let problems = preflight.problems + mine.filter { $0.state == .failed || $0.state == .blocked }
            observer.handle(
                .runFinished(
                    RunSummary(
                        kind: kind, status: status, message: message, counts: StepCounts(mine),
                        elapsedMs: ms, problems: problems)))
            return RunResult(status: status, message: message, runID: runID, steps: mine)
        }
        if kind == .rollback && specs.isEmpty {
            return await finish(.allDone, "nothing to roll back: no guest of this plan is on its target")
        }

        // 2. Every source must answer before anything starts.
        let unsettled = specs.filter { !(records[$0.id]?.state.isSettled ?? true) }
        // Host reads before the first migration start nothing: a stop ends them at once.
        let interruptedEarly = "interrupted before any migration started; nothing was changed; resume continues"
        let (down, atStart) = await control.cancellingOnStop { await self.inspectSources(unsettled) }
        if control.stopRequested { return await finish(.interrupted, interruptedEarly) }
        if options.requireReachableSources, let down {
            return await finish(.cannotStart, down)
        }

        // 3. Reconcile what a previous run left unsettled, then select retries; one batch. A
        //    rollback always looks (where each guest is decides whether it still has to move);
        //    a step a reconcile finds done carries its companions (the apply step → rolled-back).
        var batch: [StepTransition] = []
        let looked = kind == .rollback || records.values.contains { $0.attempt > 0 || $0.state != .pending }
        if looked {
            let reconciler = Reconciler(
                hypervisor: hypervisor, concurrency: options.reconcileConcurrency,
                inTransitWait: options.inTransitWait, again: kind.rawValue)
            let unsettledRecords = specs.compactMap { records[$0.id] }
            let findings = await control.cancellingOnStop {
                await reconciler.reconcile(unsettledRecords, specs: specByID)
            }
            // Findings of look-ups a stop cut short say nothing: write none of them.
            if control.stopRequested { return await finish(.interrupted, interruptedEarly) }
            for f in findings {
                guard let t = f.transition else { continue }
                records[t.step.id] = t.step
                batch.append(t)
                if t.step.state == .done { batch += companions(t.step) }
                if f.loud { observer.handle(.notice("\(t.step.guest): \(f.text)")) }
            }
        }
        for id in retryIDs(retry, specs: specs, records: records) {
            guard let r = records[id] else { continue }
            var n = r
            n.state = .pending
            n.reason = nil
            batch.append(StepTransition(step: n, from: r.state, message: "retry requested"))
            records[id] = n
        }

        let hooks = plan.hooks.map {
            HookRunner(
                hooks: $0, journal: journal, observer: observer, planName: plan.planName, runID: runID,
                forcedStop: { [control] in control.forcedStopRequested }, state: hookState)
        }
        if let hooks, startMigrations {
            // A pass a crash left open (the migration ended, its after-migration hooks did not
            // run) is finished first; then every source about to be drained gets its before-drain hooks.
            if let failure = await finishOpenPasses(hooks, specs: specs, records: records) {
                return await finish(.journalFailed, failure)
            }
            if kind == .apply {
                switch await beforeDrain(hooks, specs: specs, records: &records, runID: runID) {
                case .failure(let why): return await finish(.journalFailed, "\(why)")
                case .success(let stop?):
                    let pending = specs.compactMap { records[$0.id] }.filter { $0.state == .pending }
                    var note: [StepTransition] = []
                    for r in pending {
                        var n = r
                        n.reason = "not started: \(stop)"
                        records[r.id] = n
                        note.append(StepTransition(step: n, from: .pending, message: "not started: \(stop)"))
                    }
                    return await finish(.partial, stop, extra: note)
                case .success(nil): break
                }
            }
        }

        // 4. Walk the DAG over the pending steps.
        let runnable = specs.filter { records[$0.id]?.state == .pending }
        var (scheduler, blockedAtStart) = Scheduler.make(steps: runnable, limits: plan.graph.limits) { id in
            records[id].map { ($0.guest, $0.state == .done || $0.state == .skipped, $0.state.phrase) }
        }
        for (i, why) in blockedAtStart {
            let id = scheduler.steps[i].id
            guard let r = records[id] else { continue }
            var n = r
            n.state = .blocked
            n.reason = why
            batch.append(StepTransition(step: n, from: r.state, message: why))
            records[id] = n
        }
        if !batch.isEmpty {
            do { try await journal.commit(JournalBatch(runID: runID, transitions: batch)) } catch {
                return await finish(.journalFailed, "\(error)")
            }
            for t in batch where t.from != t.step.state {
                observer.handle(
                    .step(
                        StepChange(
                            kind: t.step.kind, id: t.step.id, guest: t.step.guest, source: t.step.source,
                            target: t.step.target, from: t.from, to: t.step.state,
                            attempt: t.step.attempt, message: t.message)))
            }
        }

        var runner = MigrationRunner(
            hypervisor: hypervisor, journal: journal, observer: observer,
            checks: Checks(
                hypervisor: hypervisor, policy: CheckPolicy(plan: plan, kind: kind),
                ledger: ledger, atStart: atStart, coordinator: coordinator),
            control: control, options: plan.migration, bridgeMap: plan.bridgeMap(for: kind),
            runID: runID, companionsOfDone: companions)
        runner.hooks = hooks
        var drained = Set<String>()
        var walk =
            startMigrations
            ? await self.walk(
                &scheduler, records: &records, runner: runner, runID: runID,
                drainHooks: kind == .apply ? specs : nil, drained: &drained)
            : WalkEnd()
        if let hooks, startMigrations, kind == .apply, walk.journalFailure == nil, !control.stopRequested {
            if let failure = await afterDrain(hooks, specs: specs, records: records, drained: &drained) {
                walk.journalFailure = failure
            }
        }
        if walk.haltedBy == nil, let h = hooks?.haltedBy { walk.haltedBy = h }
        unrecorded = walk.unrecorded

        // 5. Say why the steps still pending did not start, and how the run ended.
        let leftPending = specs.compactMap { records[$0.id] }.filter { $0.state == .pending }
        if let failure = walk.journalFailure {
            return await finish(.journalFailed, failure)
        }
        var note: [StepTransition] = walk.leftByWindow
        if !walk.leftByWindow.isEmpty {
            let left = Set(walk.leftByWindow.map(\.step.id))
            for r in leftPending
            where r.reason == nil && !left.contains(r.id) && !control.stopRequested && walk.haltedBy == nil {
                var n = r
                n.reason = "not started: waits for a migration the maintenance window left; resume continues it"
                note.append(StepTransition(step: n, from: .pending, message: n.reason ?? ""))
                records[r.id] = n
            }
        }
        let why =
            control.stopRequested
            ? "not started: interrupted by operator"
            : walk.haltedBy.map { "not started: on-failure stop after \($0) failed" }
        if let why {
            for r in leftPending where r.reason == nil {
                var n = r
                n.reason = why
                note.append(StepTransition(step: n, from: .pending, message: why))
                records[r.id] = n
            }
        }
        let mine = specs.compactMap { records[$0.id] }
        if mine.allSatisfy({ $0.state == .done || $0.state == .skipped }) {
            return await finish(.allDone, nil, extra: note)
        }
        if control.stopRequested && !leftPending.isEmpty {
            return await finish(
                .interrupted,
                "\(leftPending.count) step(s) not finished; \(kind == .rollback ? "rollback" : "resume") continues",
                extra: note)
        }
        let c = StepCounts(mine)
        let window =
            walk.leftByWindow.isEmpty
            ? "" : " (\(walk.leftByWindow.count) predicted to end after the maintenance window closes)"
        return await finish(
            .partial, "\(c.failed) failed, \(c.blocked) blocked, \(c.pending) not started\(window)", extra: note)
    }

    /// The preflight's findings as the operator sees them: state changes, and notices for what
    /// needs reading (a guest found nowhere, on two hosts, or behind a host that does not answer).
    private func announce(_ p: RollbackPreflight.Result) {
        for t in p.transitions where t.from != t.step.state {
            observer.handle(
                .step(
                    StepChange(
                        kind: t.step.kind, id: t.step.id, guest: t.step.guest, source: t.step.source,
                        target: t.step.target, from: t.from, to: t.step.state,
                        attempt: t.step.attempt, message: t.message)))
        }
        for n in p.notices { observer.handle(.notice(n)) }
    }

    /// The summary's message after a journal write failed: the error, what ended since the last
    /// durable write (so "0 done" is never said of guests that moved), and what resume will do.
    static func journalFailure(_ error: String?, unrecorded: [StepRecord]) -> String {
        var text = "the journal could not be written (\(error ?? "unknown error"))"
        if !unrecorded.isEmpty {
            text +=
                "; not recorded: "
                + unrecorded.map { r in
                    switch r.state {
                    case .done: return "\(r.guest) migrated to \(r.target)"
                    case .pending: return "\(r.guest) aborted, on \(r.source)"
                    default: return "\(r.guest) \(r.state.rawValue)"
                    }
                }.joined(separator: ", ")
        }
        return text + "; `evac resume` reconciles the journal with the hosts"
    }

    private struct WalkEnd {
        var journalFailure: String?
        var haltedBy: String?
        /// Steps that ended after the journal failed, as this process saw them (not durable).
        var unrecorded: [Int: StepRecord] = [:]
        /// Steps not started because they were predicted to end after the window closes.
        var leftByWindow: [StepTransition] = []
    }

    /// Why the maintenance window keeps step `id` from starting now, or nil: it has no window,
    /// `late: start`, the step has no prediction, or it is predicted to end in time.
    private func windowRefuses(_ predicted: Double?, runStart: Date) -> String? {
        guard let w = plan.window, w.late == .skip, let predicted else { return nil }
        let now = Date()
        guard !w.admits(predictedMs: predicted, now: now, runStart: runStart) else { return nil }
        let closes = w.closes(runStart: runStart)
        let f = ISO8601DateFormatter()
        return "not started: predicted to take \(Format.duration(ms: predicted)), to end at "
            + "\(f.string(from: now.addingTimeInterval(predicted / 1000))), after the maintenance window closes at "
            + "\(f.string(from: closes)); resume continues it"
    }

    /// `drainHooks`: every step of the run, when after-drain hooks are to run as each source's
    /// last migration ends (`drained`: the sources whose hooks ran in this process).
    private func walk(
        _ scheduler: inout Scheduler, records: inout [Int: StepRecord], runner: MigrationRunner,
        runID: Int, drainHooks: [StepSpec]?, drained: inout Set<String>
    ) async -> WalkEnd {
        var end = WalkEnd()
        let runStart = Date()
        let predicted =
            plan.window == nil
            ? [:]
            : Dictionary(
                plan.graph.nodes.map { ($0.id, $0.predictedDurationMs) }, uniquingKeysWith: { first, _ in first })
        let stopOnFailure = plan.onFailure == .stop
        await withTaskGroup(of: (Int, MigrationRunner.Outcome).self) { group in
            var inFlight = 0
            while true {
                if let hooks = runner.hooks, let all = drainHooks, end.journalFailure == nil, !control.stopRequested {
                    if let failure = await afterDrain(hooks, specs: all, records: records, drained: &drained) {
                        end.journalFailure = failure
                        control.journalFailed()
                    }
                }
                if end.haltedBy == nil, let h = runner.hooks?.haltedBy { end.haltedBy = h }
                var freed = true // a step the window leaves frees its slot for the next
                while freed && control.startsAllowed && end.haltedBy == nil && end.journalFailure == nil {
                    freed = false
                    for i in scheduler.takeStartable() {
                        let spec = scheduler.steps[i]
                        guard let record = records[spec.id] else { continue }
                        if let why = windowRefuses(predicted[spec.id] ?? nil, runStart: runStart) {
                            _ = scheduler.finish(i, .requeued)
                            freed = true
                            var n = record
                            n.reason = why
                            records[n.id] = n
                            end.leftByWindow.append(StepTransition(step: n, from: .pending, message: why))
                            continue
                        }
                        inFlight += 1
                        group.addTask { (i, await runner.run(spec, record)) }
                    }
                }
                guard inFlight > 0, let (i, outcome) = await group.next() else { break }
                inFlight -= 1
                let spec = scheduler.steps[i]
                if case .ended(let r) = outcome, r.state == .done {
                } else {
                    ledger.release(target: spec.target.name, uuid: spec.uuid)
                }
                switch outcome {
                case .notStarted:
                    _ = scheduler.finish(i, .requeued)
                case .journalFailed(let why, let seen):
                    _ = scheduler.finish(i, .requeued)
                    if let seen { end.unrecorded[seen.id] = seen }
                    if end.journalFailure == nil {
                        end.journalFailure = why
                        control.journalFailed()
                    }
                case .ended(let r):
                    records[r.id] = r
                    let blocked = scheduler.finish(i, r.state.slotOutcome)
                    if r.state == .failed && stopOnFailure && end.haltedBy == nil { end.haltedBy = r.guest }
                    guard !blocked.isEmpty, end.journalFailure == nil else { continue }
                    var ts: [StepTransition] = []
                    for (j, why) in blocked {
                        guard let old = records[scheduler.steps[j].id] else { continue }
                        var n = old
                        n.state = .blocked
                        n.reason = why
                        records[n.id] = n
                        ts.append(StepTransition(step: n, from: old.state, message: why))
                    }
                    do {
                        try await journal.commit(JournalBatch(runID: runID, transitions: ts))
                        for t in ts {
                            observer.handle(
                                .step(
                                    StepChange(
                                        kind: t.step.kind, id: t.step.id, guest: t.step.guest,
                                        source: t.step.source, target: t.step.target, from: t.from,
                                        to: .blocked, attempt: t.step.attempt, message: t.message)))
                        }
                    } catch {
                        end.journalFailure = "\(error)"
                        control.journalFailed()
                    }
                }
            }
        }
        return end
    }

    private func retryIDs(_ retry: RetrySelection, specs: [StepSpec], records: [Int: StepRecord]) -> [Int] {
        let retryable = { (id: Int) in records[id].map { $0.state == .failed || $0.state == .blocked } ?? false }
        switch retry {
        case .none: return []
        case .all: return specs.map(\.id).filter(retryable)
        case .guests(let names):
            var chosen = Set(specs.filter { names.contains($0.guest) }.map(\.id).filter(retryable))
            // Steps blocked behind a chosen one come along (transitively): they only waited for it.
            var grew = true
            while grew {
                grew = false
                for s in specs
                where !chosen.contains(s.id) && records[s.id]?.state == .blocked
                    && s.after.contains(where: chosen.contains)
                {
                    chosen.insert(s.id)
                    grew = true
                }
            }
            return specs.map(\.id).filter(chosen.contains)
        }
    }

    /// Inspects every source once: which do not answer, and the guests on the others.
    private func inspectSources(_ specs: [StepSpec]) async -> (down: String?, guests: [String: GuestAtSource]) {
        var seen = Set<String>()
        let sources = specs.map(\.source).filter { seen.insert($0.name).inserted }
        let hv = hypervisor
        let wanted = Set(specs.map(\.uuid))
        return await withTaskGroup(of: Result<HostInventory, HypervisorError>.self) { g in
            for s in sources {
                g.addTask {
                    do throws(HypervisorError) { return .success(try await hv.inspect(s)) } catch {
                        return .failure(error)
                    }
                }
            }
            var down: [String] = []
            var guests: [String: GuestAtSource] = [:]
            for await r in g {
                switch r {
                case .success(let inv):
                    for guest in inv.guests where wanted.contains(guest.uuid) {
                        guests[guest.uuid] = GuestAtSource(guest: guest, source: inv)
                    }
                case .failure(let e): down.append(Checks.describe(e))
                }
            }
            down.sort()
            return (
                down.isEmpty
                    ? nil : "source\(down.count == 1 ? "" : "s") not reachable: " + down.joined(separator: "; "), guests
            )
        }
    }
}
