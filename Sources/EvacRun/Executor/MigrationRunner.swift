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
    let options: MigrationOptions
    let bridgeMap: [String: String]
    let runID: Int
    /// Extra transitions written with a step's `done` (rollback: the apply step → rolled-back).
    let companionsOfDone: @Sendable (StepRecord) -> [StepTransition]

    enum Outcome: Sendable {
        /// Ended in done, failed, blocked, or pending again (aborted by operator).
        case ended(StepRecord)
        /// Not started because a stop came first; the record is unchanged.
        case notStarted
        /// A journal write failed (why). `seen`: how the migration ended as far as this process
        /// knows, when it ended after the last durable write (nil: it never started).
        case journalFailed(String, seen: StepRecord?)
    }

    func run(_ spec: StepSpec, _ record: StepRecord) async -> Outcome {
        observer.handle(.step(change(record, from: record.state, to: nil, "checking")))
        let signal = AbortSignal()
        control.register(spec.id, signal)
        defer { control.unregister(spec.id) }

        // With a coordinator, `running` carries the capacity claim; it is refused when another
        // run's reservations on the target changed since the check read them: check again.
        var r = record
        var recheck = 0
        while true {
            var why: String?
            switch await checks.check(spec) {
            case .blocked(let reason): why = reason
            case .start(let claim):
                guard control.startsAllowed else { return .notStarted }
                r = record
                r.state = .running
                r.attempt += 1
                r.reason = nil
                r.started = Timestamp.now()
                r.finished = nil
                r.stats = nil
                do {
                    try await write(
                        [StepTransition(step: r, from: record.state, message: "attempt \(r.attempt)")],
                        claim: claim)
                } catch CoordinatorError.changed(let target) {
                    recheck += 1
                    guard recheck >= Self.maxRechecks else { continue }
                    why = "the reservations on \(target) kept changing while checking it (\(recheck) times)"
                } catch { return .journalFailed("\(error)", seen: nil) }
            }
            guard let why else { break }
            var b = record
            b.state = .blocked
            b.reason = why
            b.finished = Timestamp.now()
            return await finish(b, from: record.state, why)
        }

        let request = MigrationRequest(
            guestUUID: spec.uuid, guestName: spec.guest, source: spec.source,
            target: spec.target, mode: spec.mode, options: options,
            copyStorage: spec.copyStorage, bridgeMap: bridgeMap)
        let observer = self.observer
        let watch = MigrationWatch(hypervisor: hypervisor, options: options) { p in
            observer.handle(
                .progress(
                    ProgressSample(
                        id: spec.id, guest: spec.guest, source: spec.source.name,
                        target: spec.target.name, progress: p)))
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
            return unrecorded(out, "the journal cannot be written")
        case (.success(let outcome), _):
            // A job that completed as the abort came in still completed: the checks decide.
            if let why = await checks.after(spec) {
                out.state = .failed
                out.reason = "post-check: \(why)"
            } else {
                out.state = .done
                out.stats = Self.encode(outcome)
            }
            return await finish(
                out, from: .running, out.reason ?? "done in \(DurationText.format(ms: outcome.durationMs))",
                outcome: out.state == .done ? outcome : nil)
        case (.failure(let e), .operatorStop?):
            out.state = .pending
            out.reason = "aborted by operator; the guest stays on \(spec.source.name), resume retries it"
            return await finish(out, from: .running, out.reason!, error: e.description)
        case (.failure(let e), let reason?):
            out.state = .failed
            out.reason = reason.text
            return await finish(out, from: .running, reason.text, error: e.description)
        case (.failure(let e), nil):
            out.state = .failed
            out.reason = "migration failed: \(e.message)"
            return await finish(out, from: .running, out.reason!, error: e.description)
        }
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
