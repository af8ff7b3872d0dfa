import EvacCore
import Foundation

/// One step from pre-check to journaled end. The journal order is the contract:
/// `running` is durable before `migrate` is called, and the end state is written after it.
struct MigrationRunner: Sendable {
    let hypervisor: any Hypervisor
    let journal: any RunJournal
    let observer: any RunObserver
    let checks: Checks
    let control: StopControl
    let bridgeMap: [String: String]
    let runID: Int
    /// Extra transitions written with a step's `done` (rollback: the apply step → rolled-back).
    let companionsOfDone: @Sendable (StepRecord) -> [StepTransition]
    /// The plan's hooks; nil when it has none.
    var hooks: HookRunner? = nil
    /// Steps whose ladder fallback was `stop`: the executor starts nothing after them.
    let haltingSteps = Locked<Set<Int>>([])

    /// Whether the step's convergence ladder asked the run to stop starting migrations.
    func haltsRun(_ id: Int) -> Bool { haltingSteps.withLock { $0.contains(id) } }

    enum Outcome: Sendable {
        /// Ended in done, failed, blocked, or pending again (aborted by operator).
        case ended(StepRecord)
        /// Not started because a stop came first; the record is unchanged.
        case notStarted
        /// A journal write failed (why). `seen`: how the migration ended as far as this process
        /// knows, when it ended after the last durable write (nil: it never started).
        case journalFailed(String, seen: StepRecord?)
    }

    /// Pre-checks, then the migration; a transient failure (see `HypervisorError.Kind`) is
    /// tried again under the plan's retry policy, each attempt journaled (running with its
    /// number, back to pending with libvirt's error), pre-checks included.
    func run(_ spec: StepSpec, _ record: StepRecord) async -> Outcome {
        let policy = spec.options.retryPolicy
        var current = record
        var attemptInRun = 1
        var mode = spec.mode
        while true {
            switch await attempt(spec, current, mode: mode, attemptInRun: attemptInRun, of: policy.attempts) {
            case .settled(let outcome):
                return await afterPhase(spec, outcome)
            case .retryPaused(let pending):
                // The ladder's fallback: once more at once, paused (it converges by construction).
                current = pending
                attemptInRun += 1
                mode = .paused
                guard control.startsAllowed else { return .ended(current) }
            case .retry(let pending):
                current = pending
                attemptInRun += 1
                let wait = policy.backoffMs(beforeAttempt: attemptInRun)
                await control.cancellingOnStop { try? await Task.sleep(for: .milliseconds(wait)) }
                guard control.startsAllowed else { return .ended(current) }
            }
        }
    }

    private enum Attempt { case settled(Outcome), retry(StepRecord), retryPaused(StepRecord) }

    /// The after-migration hooks once a step ended done or failed, or was blocked by a
    /// before-migration hook (what that hook did may need undoing). A step that went back to
    /// pending (a stop) keeps its pass open: the resume that runs it finishes the pass.
    func afterPhase(_ spec: StepSpec, _ outcome: Outcome) async -> Outcome {
        guard let hooks, case .ended(let r) = outcome, hooks.needsAfterPhase(spec, r) else { return outcome }
        do { _ = try await hooks.afterMigration(spec, r) } catch { return .journalFailed("\(error)", seen: r) }
        return outcome
    }

    private func attempt(
        _ spec: StepSpec, _ record: StepRecord, mode: MigrationOptions.Mode, attemptInRun: Int, of attempts: Int
    ) async -> Attempt {
        observer.handle(.step(change(record, from: record.state, to: nil, "checking")))
        let notStarted = Attempt.settled(record.state == .pending && attemptInRun > 1 ? .ended(record) : .notStarted)
        // A stop ends the pre-checks' waits on hosts: they start nothing, and a frozen host
        // must not hold an operator's Ctrl-C up.
        var verdict = await control.cancellingOnStop { await checks.check(spec) }
        guard control.startsAllowed else { return notStarted }
        if case .blocked(let why) = verdict { return .settled(await blocked(record, why)) }
        if attemptInRun == 1, let hooks, hooks.appliesToGuest(spec.guest) {
            let hook: HookRunner.Verdict
            do { hook = try await hooks.beforeMigration(spec) } catch {
                return .settled(.journalFailed("\(error)", seen: nil))
            }
            switch hook {
            case .proceed:
                break
            case .skip(let why), .stop(let why):
                // The guest stays where it is; a resume (or --retry) tries it again in a new pass.
                return .settled(await blocked(record, why))
            }
            guard control.startsAllowed else { return .settled(.notStarted) }
        }

        let signal = AbortSignal()
        var admitted = false
        defer { if admitted { control.unregister(spec.id) } }

        // With a coordinator, `running` carries the capacity claim; it is refused when another
        // run's reservations on the target changed since the check read them: check again.
        var r = record
        var recheck = 0
        while true {
            var why: String?
            switch verdict {
            case .blocked(let reason): why = reason
            case .start(let claim):
                // Admitted (counted by a stop as in flight) only while it is about to start.
                if !admitted {
                    guard control.admit(spec.id, signal) else { return notStarted }
                    admitted = true
                }
                r = record
                r.state = .running
                r.attempt += 1
                r.reason = nil
                r.started = Timestamp.now()
                r.finished = nil
                r.stats = nil
                let label =
                    "attempt \(r.attempt)"
                    + (mode != spec.mode
                        ? " (paused: the convergence ladder's fallback)"
                        : attemptInRun > 1 ? " (retry \(attemptInRun - 1) of \(attempts - 1) in this run)" : "")
                do {
                    try await write([StepTransition(step: r, from: record.state, message: label)], claim: claim)
                } catch CoordinatorError.changed(let target) {
                    control.unregister(spec.id)
                    admitted = false
                    // Its room in this run's ledger goes too: a sibling re-checking at the same
                    // moment would otherwise count it, and both would find no room.
                    checks.ledger.release(target: spec.target.name, uuid: spec.uuid)
                    recheck += 1
                    if recheck < Self.maxRechecks {
                        verdict = await control.cancellingOnStop { await checks.check(spec) }
                        guard control.startsAllowed else { return notStarted }
                        continue
                    }
                    why = "the reservations on \(target) kept changing while checking it (\(recheck) times)"
                } catch { return .settled(.journalFailed("\(error)", seen: nil)) }
            }
            guard let why else { break }
            return .settled(await blocked(record, why))
        }

        let request = MigrationRequest(
            guestUUID: spec.uuid, guestName: spec.guest, source: spec.source,
            target: spec.target, mode: mode, options: spec.options,
            copyStorage: spec.copyStorage, bridgeMap: bridgeMap)
        let observer = self.observer
        var watch = MigrationWatch(hypervisor: hypervisor, options: spec.options) { p in
            observer.handle(
                .progress(
                    ProgressSample(
                        id: spec.id, guest: spec.guest, source: spec.source.name,
                        target: spec.target.name, progress: p)))
        }
        let running = r
        // A rung is an event of the running step (running → running), written before it is
        // applied; a failed write aborts the migration like any journal failure.
        watch.onRung = { step in
            do { try await write([StepTransition(step: running, from: .running, message: step.text)]) } catch {
                control.journalFailed()
            }
        }
        let (result, abort) = await watch.run(request, memoryKiB: spec.memoryKiB, signal: signal)

        var out = r
        out.finished = Timestamp.now()
        switch (result, abort) {
        case (let result, .journalFailed?):
            // Another step's write failed and aborted this one: nothing more can be recorded,
            // so say what happened (the abort, or a job that completed as it came in).
            if case .success = result {
                out.state = .done
                out.reason = "migrated as the journal failed"
            } else {
                out.state = .pending
                out.reason = "aborted: the journal cannot be written; the guest stays on \(spec.source.name)"
            }
            return .settled(unrecorded(out, "the journal cannot be written"))
        case (.success(let outcome), _):
            // A job that completed as the abort came in still completed: the checks decide.
            if let why = await checks.after(spec) {
                out.state = .failed
                out.reason = "post-check: \(why)"
            } else {
                out.state = .done
                out.stats = Self.encode(outcome)
            }
            return .settled(
                await finish(
                    out, from: .running, out.reason ?? "done in \(Format.planDuration(ms: outcome.durationMs))",
                    outcome: out.state == .done ? outcome : nil))
        case (.failure(let e), .operatorStop?):
            out.state = .pending
            out.reason = "aborted by operator; the guest stays on \(spec.source.name), resume retries it"
            return .settled(await finish(out, from: .running, out.reason!, error: e.journalRecord))
        case (.failure(let e), .notConverging(let fallback, _)?) where fallback != .abort:
            return await notConverging(fallback, out, spec, e)
        case (.failure(let e), let reason?):
            out.state = .failed
            out.reason = reason.text
            return .settled(await finish(out, from: .running, reason.text, error: e.journalRecord))
        case (.failure(let e), nil) where e.kind.isTransient && attemptInRun < attempts && control.startsAllowed:
            let wait = spec.options.retryPolicy.backoffMs(beforeAttempt: attemptInRun + 1)
            out.state = .pending
            out.reason =
                "attempt \(r.attempt) failed (\(e.kind.rawValue), transient): \(e.message); "
                + "retrying in \(Format.planDuration(ms: wait)) (attempt \(attemptInRun + 1) of \(attempts) in this run)"
            switch await finish(out, from: .running, out.reason!, error: e.journalRecord) {
            case .ended: return .retry(out)
            case let other: return .settled(other)
            }
        case (.failure(let e), nil) where e.kind == .aborted:
            // Not evac's abort (that has a reason): someone ran `virsh domjobabort`, or the like.
            out.state = .failed
            out.reason = "aborted outside evac (e.g. virsh domjobabort): \(e.message)"
            return .settled(await finish(out, from: .running, out.reason!, error: e.journalRecord))
        case (.failure(let e), nil):
            out.state = .failed
            out.reason =
                "migration failed: \(e.message)"
                + (e.kind.isTransient && attemptInRun > 1 ? " (after \(attemptInRun) attempts in this run)" : "")
            return .settled(await finish(out, from: .running, out.reason!, error: e.journalRecord))
        }
    }

    /// The ladder's fallback once the aborted migration has ended (the guest is on its source).
    private func notConverging(
        _ fallback: ConvergenceLadder.Fallback, _ record: StepRecord, _ spec: StepSpec, _ e: HypervisorError
    ) async -> Attempt {
        let stays = "not converging; aborted, the guest stays on \(spec.source.name)"
        let (state, why): (StepState, String)
        switch fallback {
        case .abort: (state, why) = (.failed, stays)
        case .retryPaused: (state, why) = (.pending, stays + ": moving it again paused")
        case .skip: (state, why) = (.skipped, "not converging; skipped, the guest stays on \(spec.source.name)")
        case .stop:
            (state, why) = (.failed, stays + "; the run starts no more migrations")
            haltingSteps.withLock { _ = $0.insert(spec.id) }
        }
        var out = record
        out.state = state
        out.reason = why
        let ended = await finish(out, from: .running, why, error: e.journalRecord)
        if fallback == .retryPaused, case .ended = ended { return .retryPaused(out) }
        return .settled(ended)
    }

    private func finish(
        _ r: StepRecord, from: StepState, _ message: String, error: String? = nil,
        outcome: MigrationOutcome? = nil
    ) async -> Outcome {
        var batch = [StepTransition(step: r, from: from, message: message, hypervisorError: error)]
        if r.state == .done { batch += companionsOfDone(r) }
        do { try await write(batch, outcome: outcome) } catch {
            var seen = r
            seen.reason = r.reason ?? message
            return unrecorded(seen, "\(error)")
        }
        return .ended(r)
    }

    /// The step blocked for `why` before it started (a pre-check, a hook, reservations that
    /// kept changing): the guest stays where it is.
    private func blocked(_ record: StepRecord, _ why: String) async -> Outcome {
        var r = record
        r.state = .blocked
        r.reason = why
        r.finished = Timestamp.now()
        return await finish(r, from: record.state, why)
    }

    /// A step that ended after the journal failed: the operator still sees the event (marked as
    /// not recorded), and the executor's summary counts it as it happened.
    private func unrecorded(_ r: StepRecord, _ why: String) -> Outcome {
        observer.handle(
            .step(
                change(
                    r, from: .running, to: r.state,
                    "\(r.reason ?? r.state.rawValue) (not recorded: the journal cannot be written; resume reconciles)"))
        )
        return .journalFailed(why, seen: r)
    }

    /// Checks again after this many refused claims (each one means another migration onto the
    /// target was claimed meanwhile, so the fleet made progress), then blocks the step.
    static let maxRechecks = 64

    /// `outcome` belongs to the first transition (the step's own; companions are other steps).
    private func write(
        _ transitions: [StepTransition], outcome: MigrationOutcome? = nil,
        claim: CapacityClaim? = nil
    ) async throws {
        try await journal.commit(JournalBatch(runID: runID, transitions: transitions, claim: claim))
        for (i, t) in transitions.enumerated() {
            var c = change(t.step, from: t.from, to: t.step.state, t.message)
            if i == 0, let outcome {
                c.transferredBytes = outcome.transferredBytes
                c.durationMs = outcome.durationMs
            }
            observer.handle(.step(c))
        }
    }

    private func change(_ r: StepRecord, from: StepState?, to: StepState?, _ message: String) -> StepChange {
        StepChange(
            kind: r.kind, id: r.id, guest: r.guest, source: r.source, target: r.target, from: from,
            to: to, attempt: r.attempt, message: message)
    }

    static func encode(_ o: MigrationOutcome) -> String? {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return (try? e.encode(o)).map { String(decoding: $0, as: UTF8.self) }
    }
}
