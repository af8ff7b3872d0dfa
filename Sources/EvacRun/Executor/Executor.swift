import Foundation
import EvacCore

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
    let control = StopControl()
    let ledger = InFlightLedger()

    public init(plan: PlanFile, hypervisor: any Hypervisor, journal: any RunJournal,
                observer: any RunObserver = NullObserver(), options: ExecutorOptions = ExecutorOptions()) {
        self.plan = plan; self.hypervisor = hypervisor; self.journal = journal
        self.observer = observer; self.options = options
    }

    /// Says what a stop does, as it happens: the operator pressed Ctrl-C and must know whether
    /// to wait or press again.
    public nonisolated func requestStop(graceful: Bool) {
        let inFlight = control.request(graceful: graceful)
        if graceful {
            observer.handle(.notice(inFlight == 0
                ? "stopping: no new migration starts; none in flight; the run ends as soon as the hosts being asked have answered or are given up"
                : "stopping: no new migration starts; \(inFlight) in flight will finish; press Ctrl-C again to abort them"))
        } else {
            observer.handle(.notice("aborting \(inFlight) migration(s) in flight; their guests stay on their sources; `evac resume` continues the run"))
        }
    }

    /// A first run of the plan. Refuses (cannotStart) when the journal already has one: use resume.
    public func apply() async -> RunResult {
        await execute(kind: .apply, specs: plan.applySpecs(), fresh: true, retry: .none)
    }

    /// Reconciles the journal with the hosts, then runs pending steps and the selected failed ones.
    /// On a journal with no run yet it is the same as `apply`.
    public func resume(retry: RetrySelection = .all) async -> RunResult {
        await execute(kind: .apply, specs: plan.applySpecs(), fresh: false, retry: retry)
    }

    /// Reconciles the journal with the hosts and writes what it found, starting nothing
    /// (for `status --check`, dry runs, and timing the reconcile).
    public func reconcileOnly() async -> RunResult {
        await execute(kind: .apply, specs: plan.applySpecs(), fresh: false, retry: .none, startMigrations: false)
    }

    /// Moves every guest this plan's apply moved (done steps) back to its source, in reverse
    /// order under the same limits and checks. Resumable: run it again to continue.
    public func rollback(retry: RetrySelection = .all) async -> RunResult {
        let applied: [StepRecord]
        do { applied = try await journal.steps(kind: .apply) }
        catch { return RunResult(status: .cannotStart, message: "\(error)") }
        let existing = (try? await journal.steps(kind: .rollback)) ?? []
        let ids = Set(applied.filter { $0.state == .done }.map(\.id)).union(existing.map(\.id))
        if ids.isEmpty { return RunResult(status: .cannotStart, message: "nothing to roll back: no migration of this plan is done") }
        let byID = Dictionary(applied.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        return await execute(kind: .rollback, specs: plan.rollbackSpecs(ids: ids), fresh: false, retry: retry) { back in
            guard var a = byID[back.id], a.state == .done else { return [] }
            a.state = .rolledBack
            a.reason = "returned to \(back.target) by rollback"
            return [StepTransition(step: a, from: .done, message: a.reason!)]
        }
    }

    private func execute(kind: RunKind, specs: [StepSpec], fresh: Bool, retry: RetrySelection, startMigrations: Bool = true,
                         companions: @escaping @Sendable (StepRecord) -> [StepTransition] = { _ in [] }) async -> RunResult {
        let clock = ContinuousClock()
        let started = clock.now
        // 1. Read what the journal knows; open a run row and the steps it does not have yet.
        let runID: Int
        var records: [Int: StepRecord]
        do {
            runID = (try await journal.runs().map(\.id).max() ?? 0) + 1
            let existing = try await journal.steps(kind: kind)
            if fresh && !existing.isEmpty {
                return RunResult(status: .cannotStart, message: "journal \(journal.path) already records a run of this plan; "
                                 + "use resume to continue it, or status to see it")
            }
            // Journal rows and plan files are input: a duplicate id keeps its first entry, never traps.
            records = Dictionary(existing.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            let new = specs.filter { records[$0.id] == nil }.map { $0.newRecord() }
            for r in new { records[r.id] = r }
            let run = RunRecord(id: runID, kind: kind, planHash: plan.planHash, planName: plan.planName,
                                started: Timestamp.now(), command: options.command)
            try await journal.commit(JournalBatch(runID: runID, beginRun: run, insertSteps: new))
        } catch {
            return RunResult(status: .cannotStart, message: "\(error)")
        }
        let specByID = Dictionary(specs.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        observer.handle(.runStarted(RunStart(kind: kind, planName: plan.planName, planHash: plan.planHash,
                                             journal: journal.path, runID: runID, steps: specs.count,
                                             alreadyDone: specs.filter { records[$0.id]?.state.isSettled == true }.count)))
        func finish(_ status: RunStatus, _ message: String?, extra: [StepTransition] = []) async -> RunResult {
            let mine = specs.compactMap { records[$0.id] }
            if status != .journalFailed {
                do {
                    try await journal.commit(JournalBatch(runID: runID, transitions: extra,
                                                          finishRun: (Timestamp.now(), status.rawValue)))
                } catch {
                    return await finish(.journalFailed, "\(error)")
                }
            }
            let ms = UInt64((clock.now - started) / .milliseconds(1))
            observer.handle(.runFinished(RunSummary(kind: kind, status: status, message: message, counts: StepCounts(mine),
                                                    elapsedMs: ms, problems: mine.filter { $0.state == .failed || $0.state == .blocked })))
            return RunResult(status: status, message: message, runID: runID, steps: mine)
        }

        // 2. Every source must answer before anything starts.
        let unsettled = specs.filter { !(records[$0.id]?.state.isSettled ?? true) }
        // Host reads before the first migration start nothing: a stop ends them at once.
        let interruptedEarly = "interrupted before any migration started; nothing was changed; resume continues"
        let (down, nics) = await control.cancellingOnStop { await self.inspectSources(unsettled) }
        if control.stopRequested { return await finish(.interrupted, interruptedEarly) }
        if options.requireReachableSources, let down {
            return await finish(.cannotStart, down)
        }

        // 3. Reconcile what a previous run left unsettled, then select retries; one batch.
        var batch: [StepTransition] = []
        let looked = records.values.contains { $0.attempt > 0 || $0.state != .pending }
        if looked {
            let reconciler = Reconciler(hypervisor: hypervisor, concurrency: options.reconcileConcurrency,
                                        inTransitWait: options.inTransitWait)
            let unsettledRecords = specs.compactMap { records[$0.id] }
            let findings = await control.cancellingOnStop { await reconciler.reconcile(unsettledRecords, specs: specByID) }
            // Findings of look-ups a stop cut short say nothing: write none of them.
            if control.stopRequested { return await finish(.interrupted, interruptedEarly) }
            for f in findings {
                records[f.transition.step.id] = f.transition.step
                batch.append(f.transition)
                if f.loud { observer.handle(.notice("\(f.transition.step.guest): \(f.transition.step.reason ?? "")")) }
            }
        }
        for id in retryIDs(retry, specs: specs, records: records) {
            guard let r = records[id] else { continue }
            var n = r
            n.state = .pending; n.reason = nil
            batch.append(StepTransition(step: n, from: r.state, message: "retry requested"))
            records[id] = n
        }

        // 4. Walk the DAG over the pending steps.
        let runnable = specs.filter { records[$0.id]?.state == .pending }
        var (scheduler, blockedAtStart) = Scheduler.make(specs: runnable, limits: plan.graph.limits) { id in
            records[id].map { ($0.guest, $0.state) }
        }
        for (i, why) in blockedAtStart {
            let id = scheduler.specs[i].id
            guard let r = records[id] else { continue }
            var n = r
            n.state = .blocked; n.reason = why
            batch.append(StepTransition(step: n, from: r.state, message: why))
            records[id] = n
        }
        if !batch.isEmpty {
            do { try await journal.commit(JournalBatch(runID: runID, transitions: batch)) }
            catch { return await finish(.journalFailed, "\(error)") }
            for t in batch where t.from != t.step.state {
                observer.handle(.step(StepChange(kind: kind, id: t.step.id, guest: t.step.guest, source: t.step.source,
                                                 target: t.step.target, from: t.from, to: t.step.state,
                                                 attempt: t.step.attempt, message: t.message)))
            }
        }

        let runner = MigrationRunner(hypervisor: hypervisor, journal: journal, observer: observer,
                                     checks: Checks(hypervisor: hypervisor, policy: CheckPolicy(plan: plan), ledger: ledger,
                                                    nicsAtStart: nics),
                                     control: control, options: plan.migration, bridgeMap: plan.bridgeMap ?? [:],
                                     runID: runID, companionsOfDone: companions)
        let walk = startMigrations ? await self.walk(&scheduler, records: &records, runner: runner, runID: runID) : WalkEnd()

        // 5. Say why the steps still pending did not start, and how the run ended.
        let leftPending = specs.compactMap { records[$0.id] }.filter { $0.state == .pending }
        if let failure = walk.journalFailure {
            return await finish(.journalFailed, failure)
        }
        var note: [StepTransition] = []
        let why = control.stopRequested ? "not started: interrupted by operator"
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
        if mine.allSatisfy({ $0.state == .done || $0.state == .skipped }) { return await finish(.allDone, nil, extra: note) }
        if control.stopRequested && !leftPending.isEmpty {
            return await finish(.interrupted, "\(leftPending.count) step(s) not finished; resume continues", extra: note)
        }
        let c = StepCounts(mine)
        return await finish(.partial, "\(c.failed) failed, \(c.blocked) blocked, \(c.pending) not started", extra: note)
    }

    private struct WalkEnd { var journalFailure: String?; var haltedBy: String? }

    private func walk(_ scheduler: inout Scheduler, records: inout [Int: StepRecord], runner: MigrationRunner,
                      runID: Int) async -> WalkEnd {
        var end = WalkEnd()
        let stopOnFailure = plan.onFailure == .stop
        await withTaskGroup(of: (Int, MigrationRunner.Outcome).self) { group in
            var inFlight = 0
            while true {
                if control.startsAllowed && end.haltedBy == nil && end.journalFailure == nil {
                    for i in scheduler.takeStartable() {
                        let spec = scheduler.specs[i]
                        guard let record = records[spec.id] else { continue }
                        inFlight += 1
                        group.addTask { (i, await runner.run(spec, record)) }
                    }
                }
                guard inFlight > 0, let (i, outcome) = await group.next() else { break }
                inFlight -= 1
                let spec = scheduler.specs[i]
                if case .ended(let r) = outcome, r.state == .done {} else {
                    ledger.release(target: spec.target.name, uuid: spec.uuid)
                }
                switch outcome {
                case .notStarted:
                    _ = scheduler.finish(i, state: .pending)
                case .journalFailed(let why):
                    _ = scheduler.finish(i, state: .pending)
                    if end.journalFailure == nil { end.journalFailure = why; control.journalFailed() }
                case .ended(let r):
                    records[r.id] = r
                    let blocked = scheduler.finish(i, state: r.state)
                    if r.state == .failed && stopOnFailure && end.haltedBy == nil { end.haltedBy = r.guest }
                    guard !blocked.isEmpty, end.journalFailure == nil else { continue }
                    var ts: [StepTransition] = []
                    for (j, why) in blocked {
                        guard let old = records[scheduler.specs[j].id] else { continue }
                        var n = old
                        n.state = .blocked; n.reason = why
                        records[n.id] = n
                        ts.append(StepTransition(step: n, from: old.state, message: why))
                    }
                    do {
                        try await journal.commit(JournalBatch(runID: runID, transitions: ts))
                        for t in ts {
                            observer.handle(.step(StepChange(kind: t.step.kind, id: t.step.id, guest: t.step.guest,
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
                for s in specs where !chosen.contains(s.id) && records[s.id]?.state == .blocked
                    && s.after.contains(where: chosen.contains) {
                    chosen.insert(s.id); grew = true
                }
            }
            return specs.map(\.id).filter(chosen.contains)
        }
    }

    /// Inspects every source once: which do not answer, and the NICs of the guests on the others.
    private func inspectSources(_ specs: [StepSpec]) async -> (down: String?, nics: [String: [GuestNIC]]) {
        var seen = Set<String>()
        let sources = specs.map(\.source).filter { seen.insert($0.name).inserted }
        let hv = hypervisor
        let wanted = Set(specs.map(\.uuid))
        return await withTaskGroup(of: Result<HostInventory, HypervisorError>.self) { g in
            for s in sources {
                g.addTask {
                    do throws(HypervisorError) { return .success(try await hv.inspect(s)) } catch { return .failure(error) }
                }
            }
            var down: [String] = []
            var nics: [String: [GuestNIC]] = [:]
            for await r in g {
                switch r {
                case .success(let inv): for guest in inv.guests where wanted.contains(guest.uuid) { nics[guest.uuid] = guest.nics }
                case .failure(let e): down.append(Checks.describe(e))
                }
            }
            down.sort()
            return (down.isEmpty ? nil : "source\(down.count == 1 ? "" : "s") not reachable: " + down.joined(separator: "; "), nics)
        }
    }
}
