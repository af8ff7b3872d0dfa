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

/// How a run behaves beyond what the plan says: set by the CLI's options and by tests.
public struct ExecutorOptions: Sendable {
    /// Recorded in the journal's run row.
    public var command: String = CommandLine.arguments.joined(separator: " ")
    /// Lookups in flight at once while reconciling.
    public var reconcileConcurrency: Int = 32
    /// Refuse to start when a source does not answer (the issue's "cannot start" status).
    public var requireReachableSources: Bool = true
    /// How long a resume waits at most for a migration that outlived the process that started
    /// it (after kill -9 the source daemon goes on with a peer-to-peer migration by itself, and
    /// reports it as the guest's job): the plan's migration timeout for the guest when shorter.
    public var inTransitWait: Duration = .seconds(600)
    /// What the maintenance window is judged by: the wall clock; tests give a virtual one (the
    /// fake hypervisor's played time) so that the window's decisions do not depend on the load.
    public var clock: @Sendable () -> Date = { Date() }
    /// The defaults: the process's command line, 32 lookups, reachable sources required, 10 minutes.
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
        // The latest progress sample per step goes to the journal too, for `status --follow`.
        self.observer = FanOutObserver([observer, ProgressJournaler(journal: journal)])
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

    // MARK: - One execution, phase by phase

    /// One execution's state as its phases hand it on.
    private struct Run {
        let kind: RunKind
        let id: Int
        /// The steps of this execution (the plan's migrations, or the rollback's), in plan order.
        let specs: [StepSpec]
        /// Every step's record as this process knows it, by step id.
        var records: [Int: StepRecord]
        let preflight: RollbackPreflight.Result
        /// What a reconcile or a migration that finds a step done writes with it (a rollback
        /// step done → its apply step rolled back).
        let companions: @Sendable (StepRecord) -> [StepTransition]
        let hookState: HookJournalState
        let started: ContinuousClock.Instant
        /// What this process saw happen that the journal could not record (exit 5): the summary
        /// tells it, and resume reconciles it.
        var unrecorded: [Int: StepRecord] = [:]

        /// The records of this execution's steps, in plan order.
        var steps: [StepRecord] { specs.compactMap { records[$0.id] } }
        var pending: [StepRecord] { steps.filter { $0.state == .pending } }

        /// Gives step `r` a new reason (and state), keeps it, and returns the transition to journal.
        mutating func mark(
            _ r: StepRecord, _ state: StepState? = nil, reason: String?, message: String? = nil
        ) -> StepTransition {
            var n = r
            if let state { n.state = state }
            n.reason = reason
            records[n.id] = n
            return StepTransition(step: n, from: r.state, message: message ?? reason ?? "")
        }
    }

    /// How an execution ends: the summary's status and message, and the transitions written
    /// together with the end of the run.
    private struct RunEnd: Error {
        var status: RunStatus
        var message: String?
        var transitions: [StepTransition] = []
        init(_ status: RunStatus, _ message: String?, transitions: [StepTransition] = []) {
            self.status = status
            self.message = message
            self.transitions = transitions
        }
    }

    /// Host reads before the first migration start nothing: a stop ends them at once.
    private static let interruptedEarly = RunEnd(
        .interrupted, "interrupted before any migration started; nothing was changed; resume continues")

    private func execute(
        kind: RunKind, fresh: Bool, retry: RetrySelection, startMigrations: Bool = true
    ) async -> RunResult {
        var run: Run
        do throws(RunEnd) { run = try await open(kind: kind, fresh: fresh, started: .now) } catch {
            return RunResult(status: .cannotStart, message: error.message)
        }
        announceStart(run)
        let end: RunEnd
        do throws(RunEnd) { end = try await proceed(&run, retry: retry, startMigrations: startMigrations) } catch {
            end = error
        }
        return await finish(run, end)
    }

    /// Reads what the journal knows; for a rollback, finds first where the guests the apply
    /// touched are (RollbackPreflight). Then opens a run row with the steps the journal does
    /// not have yet and what the preflight found, in one batch.
    private func open(kind: RunKind, fresh: Bool, started: ContinuousClock.Instant) async throws(RunEnd) -> Run {
        do {
            let runID = (try await journal.runs().map(\.id).max() ?? 0) + 1
            let hookState = plan.hooks == nil ? HookJournalState() : try await journal.hookState()
            let existing = try await journal.steps(kind: kind)
            if fresh && !existing.isEmpty {
                throw RunEnd(
                    .cannotStart,
                    "journal \(journal.path) already records a run of this plan; "
                        + "use resume to continue it, or status to see it")
            }
            var preflight = RollbackPreflight.Result()
            let specs: [StepSpec]
            if kind == .rollback {
                preflight = await RollbackPreflight(plan: plan, hypervisor: hypervisor, options: options)
                    .run(apply: try await journal.steps(kind: .apply), rollback: existing)
                specs = plan.rollbackSpecs(ids: preflight.ids)
            } else {
                specs = plan.applySpecs()
            }
            // Journal rows and plan files are input: a duplicate id keeps its first entry, never traps.
            var records = Dictionary(existing.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            let new = specs.filter { records[$0.id] == nil }.map { $0.newRecord() }
            for r in new { records[r.id] = r }
            let row = RunRecord(
                id: runID, kind: kind, planHash: plan.planHash, planName: plan.planName,
                started: Timestamp.now(), command: options.command)
            try await journal.commit(
                JournalBatch(runID: runID, beginRun: row, insertSteps: new, transitions: preflight.transitions))
            return Run(
                kind: kind, id: runID, specs: specs, records: records, preflight: preflight,
                companions: RollbackPreflight.companions(applied: kind == .rollback ? preflight.applied : [:]),
                hookState: hookState, started: started)
        } catch let end as RunEnd {
            throw end
        } catch {
            throw RunEnd(.cannotStart, "\(error)")
        }
    }

    private func announceStart(_ run: Run) {
        observer.handle(
            .runStarted(
                RunStart(
                    kind: run.kind, planName: plan.planName, planHash: plan.planHash,
                    journal: journal.path, runID: run.id, steps: run.specs.count,
                    alreadyDone: run.steps.filter(\.state.isSettled).count)))
        // After runStarted, so that a display knows these apply-step events are not its run's.
        announce(run.preflight)
    }

    /// The phases from the sources' check to the walk's end: each hands the run on, or ends it
    /// early by throwing how it ends.
    private func proceed(
        _ run: inout Run, retry: RetrySelection, startMigrations: Bool
    ) async throws(RunEnd) -> RunEnd {
        if run.kind == .rollback && run.specs.isEmpty {
            return RunEnd(.allDone, "nothing to roll back: no guest of this plan is on its target")
        }
        let atStart = try await inspectSourcesFirst(run)
        let (reconciled, moving) = try await reconcile(&run)
        var batch = reconciled
        batch += selectRetries(retry, &run, except: moving)
        let hooks = hookRunner(run)
        if let hooks, startMigrations { try await runHooksBeforeWalk(hooks, &run) }
        var scheduler = schedule(&run, blocking: &batch)
        try await record(batch, run)
        var walk = startMigrations ? await migrate(&run, &scheduler, atStart: atStart, hooks: hooks) : WalkEnd()
        if walk.haltedBy == nil, let h = hooks?.haltedBy { walk.haltedBy = h }
        run.unrecorded = walk.unrecorded
        return ending(walk, &run)
    }

    /// Every source must answer before anything starts: the unsettled steps' sources, read
    /// once; their guests are what the pre-checks compare against.
    private func inspectSourcesFirst(_ run: Run) async throws(RunEnd) -> [String: GuestAtSource] {
        let unsettled = run.specs.filter { !(run.records[$0.id]?.state.isSettled ?? true) }
        let (down, atStart) = await control.cancellingOnStop { await self.inspectSources(unsettled) }
        if control.stopRequested { throw Self.interruptedEarly }
        if options.requireReachableSources, let down { throw RunEnd(.cannotStart, down) }
        return atStart
    }

    /// Reconciles what a previous run left unsettled with the hosts, returning what to journal
    /// and the steps whose guest libvirt is still migrating (not to be retried by this run).
    /// A rollback always looks (where each guest is decides whether it still has to move); a
    /// step a reconcile finds done carries its companions (the apply step → rolled-back).
    private func reconcile(_ run: inout Run) async throws(RunEnd) -> ([StepTransition], Set<Int>) {
        guard run.kind == .rollback || run.records.values.contains(where: { $0.attempt > 0 || $0.state != .pending })
        else { return ([], []) }
        let observer = observer
        let reconciler = Reconciler(
            hypervisor: hypervisor, concurrency: options.reconcileConcurrency,
            inTransitWait: options.inTransitWait, again: run.kind.rawValue, notify: { observer.handle(.notice($0)) })
        let steps = run.steps
        let specByID = Dictionary(run.specs.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let findings = await control.cancellingOnStop { await reconciler.reconcile(steps, specs: specByID) }
        // Findings of look-ups a stop cut short say nothing: write none of them.
        if control.stopRequested { throw Self.interruptedEarly }
        var batch: [StepTransition] = []
        var moving = Set<Int>()
        for f in findings {
            if f.stillMoving { moving.insert(f.step.id) }
            guard let t = f.transition else { continue }
            run.records[t.step.id] = t.step
            batch.append(t)
            if t.step.state == .done { batch += run.companions(t.step) }
            if f.loud { observer.handle(.notice("\(t.step.guest): \(f.text)")) }
        }
        return (batch, moving)
    }

    /// The failed and blocked steps the operator asked to retry, pending again; never one of
    /// `except` (a guest libvirt is still migrating).
    private func selectRetries(_ retry: RetrySelection, _ run: inout Run, except: Set<Int>) -> [StepTransition] {
        var batch: [StepTransition] = []
        for id in retryIDs(retry, specs: run.specs, records: run.records) where !except.contains(id) {
            guard let r = run.records[id] else { continue }
            batch.append(run.mark(r, .pending, reason: nil, message: "retry requested"))
        }
        return batch
    }

    private func hookRunner(_ run: Run) -> HookRunner? {
        plan.hooks.map {
            HookRunner(
                hooks: $0, journal: journal, observer: observer, planName: plan.planName, runID: run.id,
                forcedStop: { [control] in control.forcedStopRequested }, state: run.hookState)
        }
    }

    /// A pass a crash left open (the migration ended, its after-migration hooks did not run) is
    /// finished first; then every source about to be drained gets its before-drain hooks. One
    /// that stops the run ends it with every pending step saying why it did not start.
    private func runHooksBeforeWalk(_ hooks: HookRunner, _ run: inout Run) async throws(RunEnd) {
        if let failure = await finishOpenPasses(hooks, specs: run.specs, records: run.records) {
            throw RunEnd(.journalFailed, failure)
        }
        guard run.kind == .apply else { return }
        switch await beforeDrain(hooks, specs: run.specs, records: &run.records, runID: run.id) {
        case .failure(let why): throw RunEnd(.journalFailed, "\(why)")
        case .success(let stop?):
            var note: [StepTransition] = []
            for r in run.pending { note.append(run.mark(r, reason: "not started: \(stop)")) }
            throw RunEnd(.partial, stop, transitions: note)
        case .success(nil): return
        }
    }

    /// The scheduler over the pending steps. A step that can never start (it waits for one that
    /// failed or is blocked) is blocked now, in `batch`.
    private func schedule(_ run: inout Run, blocking batch: inout [StepTransition]) -> Scheduler {
        let records = run.records
        let runnable = run.specs.filter { records[$0.id]?.state == .pending }
        let (scheduler, blockedAtStart) = Scheduler.make(steps: runnable, limits: plan.graph.limits) { id in
            records[id].map { ($0.guest, $0.state == .done || $0.state == .skipped, $0.state.phrase) }
        }
        for (i, why) in blockedAtStart {
            guard let r = run.records[scheduler.steps[i].id] else { continue }
            batch.append(run.mark(r, .blocked, reason: why))
        }
        return scheduler
    }

    /// Journals what the phases before the walk found, in one batch, and shows what changed.
    private func record(_ batch: [StepTransition], _ run: Run) async throws(RunEnd) {
        guard !batch.isEmpty else { return }
        do { try await journal.commit(JournalBatch(runID: run.id, transitions: batch)) } catch {
            throw RunEnd(.journalFailed, "\(error)")
        }
        report(batch)
    }

    /// Walks the DAG over the pending steps; for an apply, the after-drain hooks of every source
    /// drained run as its last migration ends, and once more at the end for those still due.
    private func migrate(
        _ run: inout Run, _ scheduler: inout Scheduler, atStart: [String: GuestAtSource], hooks: HookRunner?
    ) async -> WalkEnd {
        var runner = MigrationRunner(
            hypervisor: hypervisor, journal: journal, observer: observer,
            checks: Checks(
                hypervisor: hypervisor, policy: CheckPolicy(plan: plan, kind: run.kind),
                ledger: ledger, atStart: atStart, coordinator: coordinator),
            control: control, bridgeMap: plan.bridgeMap(for: run.kind),
            runID: run.id, companionsOfDone: run.companions)
        runner.hooks = hooks
        var drained = Set<String>()
        var end = await walk(&scheduler, run: &run, runner: runner, drained: &drained)
        if let hooks, run.kind == .apply, end.journalFailure == nil, !control.stopRequested {
            if let failure = await afterDrain(hooks, specs: run.specs, records: run.records, drained: &drained) {
                end.journalFailure = failure
            }
        }
        return end
    }

    /// Says why the steps still pending did not start, and how the run ended.
    private func ending(_ walk: WalkEnd, _ run: inout Run) -> RunEnd {
        let leftPending = run.pending
        if let failure = walk.journalFailure { return RunEnd(.journalFailed, failure) }
        var note: [StepTransition] = walk.leftByWindow
        if !walk.leftByWindow.isEmpty {
            let left = Set(walk.leftByWindow.map(\.step.id))
            for r in leftPending
            where r.reason == nil && !left.contains(r.id) && !control.stopRequested && walk.haltedBy == nil {
                note.append(
                    run.mark(
                        r, reason: "not started: waits for a migration the maintenance window left; resume continues it"
                    ))
            }
        }
        let why =
            control.stopRequested
            ? "not started: interrupted by operator"
            : walk.haltedBy.map { "not started: on-failure stop after \($0) failed" }
        if let why {
            for r in leftPending where r.reason == nil { note.append(run.mark(r, reason: why)) }
        }
        let steps = run.steps
        if steps.allSatisfy({ $0.state == .done || $0.state == .skipped }) {
            return RunEnd(.allDone, nil, transitions: note)
        }
        if control.stopRequested && !leftPending.isEmpty {
            return RunEnd(
                .interrupted,
                "\(leftPending.count) step(s) not finished; \(run.kind == .rollback ? "rollback" : "resume") continues",
                transitions: note)
        }
        let c = StepCounts(steps)
        let window =
            walk.leftByWindow.isEmpty
            ? "" : " (\(walk.leftByWindow.count) predicted to end after the maintenance window closes)"
        return RunEnd(
            .partial, "\(c.failed) failed, \(c.blocked) blocked, \(c.pending) not started\(window)", transitions: note)
    }

    /// Journals the end of the run with its last transitions (unless the journal is what
    /// failed: then what it could not record is told instead), and tells the observer. A run
    /// whose every step is done while the preflight could not account for some guest is partial.
    private func finish(_ run: Run, _ end: RunEnd) async -> RunResult {
        var status = end.status
        var message = end.message
        if status == .allDone, !run.preflight.problems.isEmpty {
            status = .partial
            message = "\(run.preflight.problems.count) guest(s) of the apply could not be accounted for"
        }
        if status != .journalFailed {
            do {
                try await journal.commit(
                    JournalBatch(
                        runID: run.id, transitions: end.transitions, finishRun: (Timestamp.now(), status.rawValue)))
            } catch {
                status = .journalFailed
                message = "\(error)"
            }
        }
        var steps = run.steps
        if status == .journalFailed {
            steps = steps.map { run.unrecorded[$0.id] ?? $0 }
            message = Self.journalFailure(message, unrecorded: run.unrecorded.values.sorted { $0.id < $1.id })
        }
        let ms = UInt64((ContinuousClock.now - run.started) / .milliseconds(1))
        let problems = run.preflight.problems + steps.filter { $0.state == .failed || $0.state == .blocked }
        observer.handle(
            .runFinished(
                RunSummary(
                    kind: run.kind, status: status, message: message, counts: StepCounts(steps),
                    elapsedMs: ms, problems: problems)))
        return RunResult(status: status, message: message, runID: run.id, steps: steps)
    }

    /// The preflight's findings as the operator sees them: state changes, and notices for what
    /// needs reading (a guest found nowhere, on two hosts, or behind a host that does not answer).
    private func announce(_ p: RollbackPreflight.Result) {
        report(p.transitions)
        for n in p.notices { observer.handle(.notice(n)) }
    }

    /// Shows the observer every transition that changed a step's state.
    func report(_ transitions: [StepTransition]) {
        for t in transitions where t.from != t.step.state {
            observer.handle(
                .step(
                    StepChange(
                        kind: t.step.kind, id: t.step.id, guest: t.step.guest, source: t.step.source,
                        target: t.step.target, from: t.from, to: t.step.state,
                        attempt: t.step.attempt, message: t.message)))
        }
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
        let now = options.clock()
        guard !w.admits(predictedMs: predicted, now: now, runStart: runStart) else { return nil }
        let closes = w.closes(runStart: runStart)
        let f = ISO8601DateFormatter()
        return "not started: predicted to take \(Format.duration(ms: predicted)), to end at "
            + "\(f.string(from: now.addingTimeInterval(predicted / 1000))), after the maintenance window closes at "
            + "\(f.string(from: closes)); resume continues it"
    }

    /// Starts every step the scheduler allows until none is left to start or in flight; for an
    /// apply, each source's after-drain hooks run as its last migration ends (`drained`: the
    /// sources whose hooks ran in this process).
    private func walk(
        _ scheduler: inout Scheduler, run: inout Run, runner: MigrationRunner, drained: inout Set<String>
    ) async -> WalkEnd {
        var end = WalkEnd()
        let runStart = options.clock()
        let predicted =
            plan.window == nil
            ? [:]
            : Dictionary(
                plan.graph.nodes.map { ($0.id, $0.predictedDurationMs) }, uniquingKeysWith: { first, _ in first })
        let stopOnFailure = plan.policy.onFailure == .stop
        await withTaskGroup(of: (Int, MigrationRunner.Outcome).self) { group in
            var inFlight = 0
            while true {
                if let hooks = runner.hooks, run.kind == .apply, end.journalFailure == nil, !control.stopRequested {
                    if let failure = await afterDrain(hooks, specs: run.specs, records: run.records, drained: &drained)
                    {
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
                        guard let record = run.records[spec.id] else { continue }
                        // A move the offline fallback began is finished whatever the window:
                        // the guest may be shut off.
                        if !OfflineMove.isMarked(record),
                            let why = windowRefuses(predicted[spec.id] ?? nil, runStart: runStart)
                        {
                            _ = scheduler.finish(i, .requeued)
                            freed = true
                            end.leftByWindow.append(run.mark(record, reason: why))
                            continue
                        }
                        inFlight += 1
                        group.addTask { (i, await runner.run(spec, record)) }
                    }
                }
                guard inFlight > 0, let (i, outcome) = await group.next() else { break }
                inFlight -= 1
                let blocked = settle(i, outcome, &scheduler, &run, &end, stopOnFailure: stopOnFailure, runner: runner)
                guard !blocked.isEmpty, end.journalFailure == nil else { continue }
                if let failure = await block(blocked, of: scheduler, &run) {
                    end.journalFailure = failure
                    control.journalFailed()
                }
            }
        }
        return end
    }

    /// Hands a migration's outcome back to the scheduler and returns the steps that can no
    /// longer start because of it. Its target's reservation is released unless it moved the
    /// guest there; a step that did not start, or whose end the journal could not record, goes
    /// back to the queue; with `on-failure: stop` a failure halts the walk.
    private func settle(
        _ i: Int, _ outcome: MigrationRunner.Outcome, _ scheduler: inout Scheduler, _ run: inout Run,
        _ end: inout WalkEnd, stopOnFailure: Bool, runner: MigrationRunner
    ) -> [(index: Int, reason: String)] {
        let spec = scheduler.steps[i]
        if case .ended(let r) = outcome, r.state == .done {
        } else {
            ledger.release(target: spec.target.name, uuid: spec.uuid)
        }
        switch outcome {
        case .notStarted:
            _ = scheduler.finish(i, .requeued)
            return []
        case .journalFailed(let why, let seen):
            _ = scheduler.finish(i, .requeued)
            if let seen { end.unrecorded[seen.id] = seen }
            if end.journalFailure == nil {
                end.journalFailure = why
                control.journalFailed()
            }
            return []
        case .ended(let r):
            run.records[r.id] = r
            // The plan's stop-on-failure, or a convergence ladder whose fallback is "stop".
            if r.state == .failed && (stopOnFailure || runner.haltsRun(r.id)) && end.haltedBy == nil {
                end.haltedBy = r.guest
            }
            return scheduler.finish(i, r.state.slotOutcome)
        }
    }

    /// Blocks the steps that wait for one that did not end done, journals that, and shows it;
    /// returns the journal's error when it could not be written.
    private func block(
        _ blocked: [(index: Int, reason: String)], of scheduler: Scheduler, _ run: inout Run
    ) async -> String? {
        var ts: [StepTransition] = []
        for (j, why) in blocked {
            guard let old = run.records[scheduler.steps[j].id] else { continue }
            ts.append(run.mark(old, .blocked, reason: why))
        }
        do { try await journal.commit(JournalBatch(runID: run.id, transitions: ts)) } catch { return "\(error)" }
        report(ts)
        return nil
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
    func inspectSources(_ specs: [StepSpec]) async -> (down: String?, guests: [String: GuestAtSource]) {
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
