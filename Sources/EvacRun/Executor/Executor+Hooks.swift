import EvacCore

/// The drain hooks, and the after-migration hooks a crash left to run.
extension Executor {
    /// After-migration hooks of steps that ended (in an earlier process, or found done by the
    /// reconcile) while their pass stayed open. Returns the journal's error when it failed.
    func finishOpenPasses(_ hooks: HookRunner, specs: [StepSpec], records: [Int: StepRecord]) async -> String? {
        for spec in specs {
            guard let r = records[spec.id], hooks.needsAfterPhase(spec, r) else { continue }
            observer.handle(
                .notice(
                    "\(spec.guest): its migration ended (\(r.state.rawValue)) without its after-migration hooks; running them now"
                ))
            do { _ = try await hooks.afterMigration(spec, r) } catch { return "\(error)" }
        }
        return nil
    }

    /// Before-drain hooks of every source with a migration about to run, in the plan's order of
    /// sources. A `skip` blocks that source's pending steps (its guests stay); a `stop` returns
    /// the reason and nothing starts. A host whose hooks completed in an earlier process is not
    /// run again. Fails with the journal's error.
    func beforeDrain(
        _ hooks: HookRunner, specs: [StepSpec], records: inout [Int: StepRecord],
        runID: Int
    ) async -> Result<String?, JournalWriteFailure> {
        let pendingBySource = Dictionary(
            grouping: specs.filter { records[$0.id]?.state == .pending }, by: \.source.name)
        for host in plan.sources where pendingBySource[host] != nil && hooks.hasDrainHooks(.beforeDrain, host: host) {
            let verdict: HookRunner.Verdict
            do { verdict = try await hooks.drain(.beforeDrain, host: host) } catch {
                return .failure(JournalWriteFailure("\(error)"))
            }
            switch verdict {
            case .proceed: continue
            case .stop(let why): return .success(why)
            case .skip(let why):
                var batch: [StepTransition] = []
                for spec in pendingBySource[host] ?? [] {
                    guard let old = records[spec.id] else { continue }
                    var n = old
                    n.state = .blocked
                    n.reason = why
                    records[spec.id] = n
                    batch.append(StepTransition(step: n, from: old.state, message: why))
                }
                do { try await journal.commit(JournalBatch(runID: runID, transitions: batch)) } catch {
                    return .failure(JournalWriteFailure("\(error)"))
                }
                for t in batch {
                    observer.handle(
                        .step(
                            StepChange(
                                kind: t.step.kind, id: t.step.id, guest: t.step.guest, source: t.step.source,
                                target: t.step.target, from: t.from, to: t.step.state,
                                attempt: t.step.attempt, message: t.message)))
                }
            }
        }
        return .success(nil)
    }

    /// After-drain hooks of every source whose migrations have all ended (EVAC_OUTCOME is
    /// `drained` when every one is done or skipped, else `partial`), unless completed before or
    /// run already by this process (`drained`). Returns the journal's error when it failed.
    func afterDrain(
        _ hooks: HookRunner, specs: [StepSpec], records: [Int: StepRecord],
        drained: inout Set<String>
    ) async -> String? {
        let bySource = Dictionary(grouping: specs, by: \.source.name)
        for host in plan.sources where !drained.contains(host) && hooks.hasDrainHooks(.afterDrain, host: host) {
            let states = (bySource[host] ?? []).compactMap { records[$0.id]?.state }
            guard !states.isEmpty, !states.contains(.pending), !states.contains(.running) else { continue }
            drained.insert(host)
            guard !hooks.drainCompleted(.afterDrain, host: host) else { continue }
            let done = states.allSatisfy { $0 == .done || $0 == .skipped }
            do { _ = try await hooks.drain(.afterDrain, host: host, outcome: done ? "drained" : "partial") } catch {
                return "\(error)"
            }
        }
        return nil
    }
}

/// A journal write that failed, as a value (Result needs an Error).
struct JournalWriteFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
