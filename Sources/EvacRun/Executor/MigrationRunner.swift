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
        if OfflineMove.isMarked(record) { return await afterPhase(spec, await finishOffline(spec, record)) }
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

    /// An attempt's phases end early by throwing how the attempt ended (as `Executor.execute`'s
    /// phases throw `RunEnd`): blocked, not started, or a journal failure.
    private struct AttemptEnd: Error {
        let attempt: Attempt
        init(_ attempt: Attempt) { self.attempt = attempt }
    }

    /// One attempt in phases: pre-checks and the before-migration hooks, the durable `running`
    /// (admitted as in flight), the migration under its watch, then its end in the journal.
    private func attempt(
        _ spec: StepSpec, _ record: StepRecord, mode: MigrationOptions.Mode, attemptInRun: Int, of attempts: Int
    ) async -> Attempt {
        observer.handle(.step(change(record, from: record.state, to: nil, "checking")))
        // A retry that a stop keeps from starting ends pending (its record says why); a first
        // attempt that never started leaves the record as it was.
        let notStarted = Attempt.settled(record.state == .pending && attemptInRun > 1 ? .ended(record) : .notStarted)
        let signal = AbortSignal()
        let running: StepRecord
        do throws(AttemptEnd) {
            let verdict = try await precheck(spec, record, attemptInRun: attemptInRun, notStarted: notStarted)
            let label = Self.startLabel(
                record, changedMode: mode != spec.mode, attemptInRun: attemptInRun, of: attempts)
            running = try await start(spec, record, verdict, label: label, signal: signal, notStarted: notStarted)
        } catch {
            return error.attempt
        }
        defer { control.unregister(spec.id) }
        let (result, abort) = await migrate(spec, running, mode: mode, signal: signal)
        return await settle(spec, running, result, abort, attemptInRun: attemptInRun, of: attempts)
    }

    /// The pre-checks, then (on a run's first attempt) the before-migration hooks. A stop ends
    /// the checks' waits on hosts: they start nothing, and a frozen host must not hold an
    /// operator's Ctrl-C up.
    private func precheck(
        _ spec: StepSpec, _ record: StepRecord, attemptInRun: Int, notStarted: Attempt
    ) async throws(AttemptEnd) -> PreCheck {
        let verdict = await control.cancellingOnStop { await checks.check(spec) }
        guard control.startsAllowed else { throw AttemptEnd(notStarted) }
        if case .blocked(let why) = verdict { throw AttemptEnd(.settled(await blocked(record, why))) }
        guard attemptInRun == 1, let hooks, hooks.appliesToGuest(spec.guest) else { return verdict }
        let hook: HookRunner.Verdict
        do { hook = try await hooks.beforeMigration(spec) } catch {
            throw AttemptEnd(.settled(.journalFailed("\(error)", seen: nil)))
        }
        switch hook {
        case .proceed:
            break
        case .skip(let why), .stop(let why):
            // The guest stays where it is; a resume (or --retry) tries it again in a new pass.
            throw AttemptEnd(.settled(await blocked(record, why)))
        }
        guard control.startsAllowed else { throw AttemptEnd(.settled(.notStarted)) }
        return verdict
    }

    /// What the `running` transition says: the attempt's number, and why it is not the plain
    /// first one (the ladder's paused fallback, or a retry within this run).
    private static func startLabel(
        _ record: StepRecord, changedMode: Bool, attemptInRun: Int, of attempts: Int
    )
        -> String
    {
        let why =
            changedMode
            ? " (paused: the convergence ladder's fallback)"
            : attemptInRun > 1 ? " (retry \(attemptInRun - 1) of \(attempts - 1) in this run)" : ""
        return "attempt \(record.attempt + 1)" + why
    }

    /// Admits the step as in flight (a stop then counts it) and makes `running` durable before
    /// the migration starts. With a coordinator, `running` carries the capacity claim; it is
    /// refused when another run's reservations on the target changed since the check read them:
    /// check again. Returns the running record, admitted (the caller unregisters it); when it
    /// throws, the step is not admitted.
    private func start(
        _ spec: StepSpec, _ record: StepRecord, _ firstVerdict: PreCheck, label: String, signal: AbortSignal,
        notStarted: Attempt
    ) async throws(AttemptEnd) -> StepRecord {
        var verdict = firstVerdict
        var running = record
        running.state = .running
        running.attempt += 1
        running.reason = nil
        running.finished = nil
        running.stats = nil
        var recheck = 0
        while true {
            let claim: CapacityClaim?
            switch verdict {
            case .blocked(let why): throw AttemptEnd(.settled(await blocked(record, why)))
            case .start(let c): claim = c
            }
            guard control.admit(spec.id, signal) else { throw AttemptEnd(notStarted) }
            running.started = Timestamp.now()
            do {
                try await write([StepTransition(step: running, from: record.state, message: label)], claim: claim)
                return running
            } catch CoordinatorError.changed(let target) {
                control.unregister(spec.id)
                // Its room in this run's ledger goes too: a sibling re-checking at the same
                // moment would otherwise count it, and both would find no room.
                checks.ledger.release(target: spec.target.name, uuid: spec.uuid)
                recheck += 1
                guard recheck < Self.maxRechecks else {
                    let why = "the reservations on \(target) kept changing while checking it (\(recheck) times)"
                    throw AttemptEnd(.settled(await blocked(record, why)))
                }
                verdict = await control.cancellingOnStop { await checks.check(spec) }
                guard control.startsAllowed else { throw AttemptEnd(notStarted) }
            } catch {
                control.unregister(spec.id)
                throw AttemptEnd(.settled(.journalFailed("\(error)", seen: nil)))
            }
        }
    }

    /// The migration under its watch (timeouts, progress, the convergence ladder), each
    /// progress sample to the observer.
    private func migrate(
        _ spec: StepSpec, _ running: StepRecord, mode: MigrationOptions.Mode, signal: AbortSignal
    ) async -> (Result<MigrationOutcome, HypervisorError>, AbortReason?) {
        let request = spec.request(mode: mode, bridgeMap: bridgeMap)
        let observer = self.observer
        var watch = MigrationWatch(hypervisor: hypervisor, options: spec.options) { p in
            observer.handle(
                .progress(
                    ProgressSample(
                        id: spec.id, guest: spec.guest, source: spec.source.name,
                        target: spec.target.name, progress: p)))
        }
        // A rung is an event of the running step (running → running), written before it is
        // applied; a failed write aborts the migration like any journal failure.
        watch.onRung = { step in
            do { try await write([StepTransition(step: running, from: .running, message: step.text)]) } catch {
                control.journalFailed()
            }
        }
        return await watch.run(request, memoryKiB: spec.memoryKiB, signal: signal)
    }

    /// How the migration ended, journaled: done (post-checks passed), pending again (a stop, a
    /// transient failure retried in this run, the ladder's paused fallback), or failed.
    private func settle(
        _ spec: StepSpec, _ running: StepRecord, _ result: Result<MigrationOutcome, HypervisorError>,
        _ abort: AbortReason?, attemptInRun: Int, of attempts: Int
    ) async -> Attempt {
        var out = running
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
            return .settled(await landed(spec, out, outcome))
        case (.failure(let e), .notConverging(let fallback, _)?) where fallback != .abort:
            return await notConverging(fallback, out, spec, e)
        case (.failure(let e), nil) where e.kind.isTransient && attemptInRun < attempts && control.startsAllowed:
            let wait = spec.options.retryPolicy.backoffMs(beforeAttempt: attemptInRun + 1)
            out.state = .pending
            let why =
                "attempt \(out.attempt) failed (\(e.kind.rawValue), transient): \(e.message); "
                + "retrying in \(Format.planDuration(ms: wait)) (attempt \(attemptInRun + 1) of \(attempts) in this run)"
            out.reason = why
            switch await finish(out, from: .running, why, error: e.journalRecord) {
            case .ended: return .retry(out)
            case let other: return .settled(other)
            }
        case (.failure(let e), let abort):
            let why: String
            (out.state, why) = Self.failed(e, abort, spec, attemptInRun: attemptInRun)
            out.reason = why
            return .settled(await finish(out, from: .running, why, error: e.journalRecord))
        }
    }

    /// A job that completed (even as an abort came in) still completed: the post-checks decide
    /// whether the step is done.
    private func landed(_ spec: StepSpec, _ ended: StepRecord, _ outcome: MigrationOutcome) async -> Outcome {
        var out = ended
        if let why = await checks.after(spec) {
            out.state = .failed
            out.reason = "post-check: \(why)"
            return await finish(out, from: .running, "post-check: \(why)")
        }
        out.state = .done
        out.stats = Self.encode(outcome)
        return await finish(
            out, from: .running, "done in \(Format.planDuration(ms: outcome.durationMs))", outcome: outcome)
    }

    /// The state and reason of a migration that failed and is not retried in this run: an
    /// operator's stop leaves it pending (resume retries it), anything else fails it.
    private static func failed(
        _ e: HypervisorError, _ abort: AbortReason?, _ spec: StepSpec, attemptInRun: Int
    ) -> (StepState, String) {
        switch abort {
        case .operatorStop?:
            return (.pending, "aborted by operator; the guest stays on \(spec.source.name), resume retries it")
        case let reason?:
            return (.failed, reason.text)
        case nil where e.kind == .aborted:
            // Not evac's abort (that has a reason): someone ran `virsh domjobabort`, or the like.
            return (.failed, "aborted outside evac (e.g. virsh domjobabort): \(e.message)")
        case nil:
            let after = e.kind.isTransient && attemptInRun > 1 ? " (after \(attemptInRun) attempts in this run)" : ""
            return (.failed, "migration failed: \(e.message)" + after)
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
        case .offline: (state, why) = (.running, OfflineMove.marker + stays + "; moving it offline")
        }
        var out = record
        if fallback == .offline {
            // The abort is an event of the running step, which stays running: the move follows.
            out.finished = nil
            out.reason = why
            let t = StepTransition(step: out, from: .running, message: why, hypervisorError: e.journalRecord)
            do { try await write([t]) } catch { return .settled(unrecorded(out, "\(error)")) }
            return .settled(await offline(spec, out))
        }
        out.state = state
        out.reason = why
        let ended = await finish(out, from: .running, why, error: e.journalRecord)
        if fallback == .retryPaused, case .ended = ended { return .retryPaused(out) }
        return .settled(ended)
    }

    /// The offline fallback from the running record on (`OfflineMove`), journaled to its end.
    private func offline(_ spec: StepSpec, _ running: StepRecord) async -> Outcome {
        let move = OfflineMove(hypervisor: hypervisor, spec: spec, bridgeMap: bridgeMap) { r in
            try await write([StepTransition(step: r, from: .running, message: r.reason ?? "offline fallback")])
        }
        switch await move.run(running) {
        case .journalFailed(let why, let seen): return unrecorded(seen, why)
        case .ended(let r, let error):
            return await finish(r, from: .running, r.reason ?? r.state.rawValue, error: error)
        }
    }

    /// A step a crash (or a failed sub-step) left in the offline fallback: the guest may be shut
    /// off, or defined on the target only; no live migration again, no pre-checks (they expect it
    /// running on its source): the move is finished from where the guest is. Its room on the
    /// target is counted in this run's ledger for the siblings' checks.
    private func finishOffline(_ spec: StepSpec, _ record: StepRecord) async -> Outcome {
        guard control.startsAllowed else { return .notStarted }
        let signal = AbortSignal()
        guard control.admit(spec.id, signal) else { return .notStarted }
        defer { control.unregister(spec.id) }
        _ = checks.ledger.reserve(
            target: spec.target.name, .init(uuid: spec.uuid, memoryKiB: spec.memoryKiB, vcpus: spec.vcpus)
        ) { _ in nil }
        var running = record
        running.state = .running
        running.attempt += 1
        running.started = Timestamp.now()
        running.finished = nil
        running.reason = OfflineMove.marker + "resuming the move of \(spec.guest) to \(spec.target.name)"
        let label = "attempt \(running.attempt) (finishing the offline fallback)"
        do { try await write([StepTransition(step: running, from: record.state, message: label)]) } catch {
            return .journalFailed("\(error)", seen: nil)
        }
        return await offline(spec, running)
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
