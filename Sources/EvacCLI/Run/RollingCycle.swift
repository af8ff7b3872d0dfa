import ArgumentParser
import EvacCore
import EvacLibvirt
import EvacRun
import Foundation

/// A rolling maintenance cycle (`evac roll`): batch after batch, drain (a journaled run of its
/// own), maintenance commands, wait for libvirt to answer again, return the guests (the drain's
/// rollback). The cycle's journal records each batch's stage before its work begins, so that
/// `evac roll` after kill -9 at any point continues where the cycle was; and no batch is
/// drained unless every one of its guests can be placed on the hosts that stay up.
struct RollingCycle {
    var loaded: LoadedPlan
    var rolling: RollingSpec
    var stateDirectory: String
    var run: RunOptions
    var connection: ConnectionOptions

    var spec: PlanSpec { loaded.spec }
    var settings: ConnectionSettings { connection.settings(spec.connection) }

    /// The plan the cycle's journal is keyed to: the whole YAML plan, no migrations of its own.
    func cyclePlan() -> PlanFile {
        let (graph, _) = MigrationGraph.build(spec: spec, placements: [], file: loaded.source.path)
        let empty =
            graph ?? MigrationGraph.build(
                spec: PlanSpec(name: spec.name, hosts: [], sources: [], targetPools: []),
                placements: [], file: ""
            ).graph!
        let result = PlacementResult(placements: [], unplaceable: [], skipped: [], targets: [], notes: [])
        return PlanFile(
            spec: spec,
            planSource: .init(path: URL(fileURLWithPath: loaded.source.path).lastPathComponent, sha256: loaded.sha256),
            inventory: Inventory(hosts: []), result: result, graph: empty,
            timeline: Timeline.estimate(empty, bandwidth: nil), hashed: false
        ).sealed().file
    }

    /// The N+1 check against the live fleet: one line per batch; nil when every batch fits.
    func capacityCheck() async -> (report: String, refused: Bool) {
        let gathered = await InventoryGatherer.live(spec, file: loaded.source.path, settings: settings)
        let unreachable = gathered.inventory.unreachable.map { "\($0.name) (\($0.error))" }
        var out =
            "Rolling cycle \(spec.name): \(spec.sources.count) host(s), \(rolling.atATime) at a time, "
            + (rolling.returnGuests ? "guests return after each" : "guests stay where they went") + "\n"
        if !unreachable.isEmpty { out += "  not answering now: \(unreachable.joined(separator: "; "))\n" }
        var refused = !unreachable.isEmpty && gathered.sourceUnreachable
        for b in RollingCheck.check(spec, inventory: gathered.inventory) {
            let targets = Set(b.placements.map(\.target)).sorted()
            out +=
                "  \(b.hosts.joined(separator: "+")): \(b.placements.count) guest(s)"
                + (targets.isEmpty ? "" : " → \(targets.joined(separator: ", "))")
            if !b.skipped.isEmpty {
                out += ", \(b.skipped.count) left (\(b.skipped.map(\.guest).joined(separator: ", ")))"
            }
            if b.unplaceable.isEmpty {
                out += ": fits\n"
                continue
            }
            refused = true
            out +=
                ": DOES NOT FIT — "
                + b.unplaceable.map { u in
                    "\(u.guest): \(u.why)"
                }.joined(separator: "; ") + "\n"
        }
        return (out, refused)
    }

    /// Runs (or continues) the cycle; returns the exit code.
    func execute() async -> ExitCode {
        let plan = cyclePlan()
        let path = JournalLocation.journalPath(for: plan, stateDirectory: stateDirectory)
        let journal: SQLiteJournal
        do { journal = try SQLiteJournal(path: path, plan: plan) } catch {
            Console.error("error: \(error)\n")
            return EvacExit.cannotStart
        }
        defer { journal.close() }
        let observer = run.observer()
        let control = CycleStop()
        let signals = StopSignals.shared.route { graceful in control.request(graceful: graceful) }
        defer { signals.cancel() }
        var batches: [CycleRecord]
        let runID: Int
        do {
            batches = try await journal.cycle()
            runID = (try await journal.runs().map(\.id).max() ?? 0) + 1
            if batches.isEmpty {
                let (report, refused) = await capacityCheck()
                Console.error(report)
                if refused {
                    Console.error(
                        "error: the cycle does not start: a batch's guests would not all fit on the hosts that stay up; nothing was changed\n"
                    )
                    return EvacExit.cannotStart
                }
                batches = rolling.batches(spec.sourceNames).enumerated().map {
                    CycleRecord(batch: $0 + 1, hosts: $1, stage: .pending, updated: Timestamp.now())
                }
            } else {
                Console.error("note: continuing the rolling cycle of \(spec.name) from \(path)\n")
            }
            try await journal.commit(
                JournalBatch(
                    runID: runID,
                    beginRun: RunRecord(
                        id: runID, kind: .apply, planHash: plan.planHash,
                        planName: plan.planName, started: Timestamp.now(),
                        command: CommandLine.arguments.joined(separator: " ")),
                    cycle: batches))
        } catch {
            Console.error("error: \(error)\n")
            return EvacExit.cannotStart
        }
        let hooks = HookRunner(
            hooks: {
                var h = HookSet()
                h.maintenance = rolling.maintenance
                return h
            }(),
            journal: journal, observer: observer, planName: spec.name, runID: runID,
            forcedStop: { control.forced }, state: (try? await journal.hookState()) ?? HookJournalState())
        var code = EvacExit.success
        for var b in batches where b.stage != .done {
            code = await advance(&b, journal: journal, runID: runID, hooks: hooks, control: control, observer: observer)
            if code != EvacExit.success { break }
        }
        let status =
            code == EvacExit.success ? RunStatus.allDone : code == EvacExit.interrupted ? .interrupted : .partial
        try? await journal.commit(JournalBatch(runID: runID, finishRun: (Timestamp.now(), status.rawValue)))
        Console.error(
            code == EvacExit.success
                ? "rolling cycle \(spec.name) complete: every batch drained, maintained, answering\(rolling.returnGuests ? ", its guests back" : "") (exit 0)\n"
                : "rolling cycle \(spec.name) stopped (exit \(code.rawValue)); `evac status \(ShellWord.quote(path))` shows where; `evac roll` of the plan continues it\n"
        )
        return code
    }

    /// Takes one batch through its remaining stages, each written before it begins.
    private func advance(
        _ b: inout CycleRecord, journal: SQLiteJournal, runID: Int, hooks: HookRunner,
        control: CycleStop, observer: any RunObserver
    ) async -> ExitCode {
        let name = b.hosts.joined(separator: "+")
        func set(_ stage: CycleRecord.Stage, _ message: String? = nil) async -> Bool {
            b.stage = stage
            b.updated = Timestamp.now()
            b.message = message
            do {
                try await journal.commit(JournalBatch(runID: runID, cycle: [b]))
                observer.handle(.cycle(b))
                return true
            } catch {
                Console.error("error: \(error)\n")
                return false
            }
        }
        while true {
            if control.requested { return EvacExit.interrupted }
            switch b.stage {
            case .pending, .draining:
                Console.error("== \(name): drain\n")
                let code = await drain(&b, journal: journal, runID: runID, observer: observer)
                guard code == EvacExit.success else { return code }
                guard await set(.maintenance) else { return EvacExit.journalFailed }
            case .maintenance:
                Console.error("== \(name): maintenance\n")
                for host in b.hosts {
                    guard hooks.hasDrainHooks(.maintenance, host: host) else {
                        Console.error(
                            "warning: \(host) has no maintenance command (rolling.maintenance); nothing to run\n")
                        continue
                    }
                    let verdict: HookRunner.Verdict
                    do { verdict = try await hooks.drain(.maintenance, host: host) } catch {
                        Console.error("error: \(error)\n")
                        return EvacExit.journalFailed
                    }
                    if case .skip(let why) = verdict {
                        Console.error("error: \(why); \(host) is empty and stays so\n")
                        return EvacExit.partial
                    }
                    if case .stop(let why) = verdict {
                        Console.error("error: \(why); \(host) is empty and stays so\n")
                        return EvacExit.partial
                    }
                }
                guard await set(.waiting) else { return EvacExit.journalFailed }
            case .waiting:
                Console.error(
                    "== \(name): waiting for libvirt (at most \(Format.planDuration(ms: rolling.waitForHostMs)))\n")
                for host in b.hosts {
                    guard let why = await waitForHost(host, control: control) else { continue }
                    Console.error("error: \(why)\n")
                    return control.requested ? EvacExit.interrupted : EvacExit.cannotStart
                }
                guard await set(rolling.returnGuests ? .returning : .done) else { return EvacExit.journalFailed }
            case .returning:
                Console.error("== \(name): returning guests\n")
                let code = await returnGuests(b)
                guard code == EvacExit.success else { return code }
                guard await set(.done) else { return EvacExit.journalFailed }
            case .done:
                return EvacExit.success
            }
        }
    }

    /// The batch's drain: placed now against the live fleet (refused when a guest fits nowhere),
    /// or continued from its journal when it began earlier. Ends with the hosts empty.
    private func drain(
        _ b: inout CycleRecord, journal: SQLiteJournal, runID: Int, observer: any RunObserver
    ) async -> ExitCode {
        let hv = LibvirtHypervisor(settings: settings)
        let phaseJournal: SQLiteJournal
        let phasePlan: PlanFile
        if let p = b.phaseJournal, FileManager.default.fileExists(atPath: p),
            let stored = try? JournalStatus.storedPlan(path: p)
        {
            do { phaseJournal = try SQLiteJournal(path: p, plan: stored) } catch {
                Console.error("error: \(error)\n")
                return EvacExit.cannotStart
            }
            phasePlan = stored
        } else {
            let phase = spec.rollingPhase(b.hosts)
            let gathered = await InventoryGatherer.live(phase, file: loaded.source.path, settings: settings)
            if gathered.sourceUnreachable {
                Console.error(
                    DiagnosticRenderer.render(gathered.diagnostics, sources: [loaded.source.path: loaded.source]))
                return EvacExit.cannotStart
            }
            let result = Placer.place(spec: phase, inventory: gathered.inventory)
            if !result.unplaceable.isEmpty {
                Console.error(
                    "error: \(b.hosts.joined(separator: "+")) is not drained: \(result.unplaceable.map { "\($0.guest) fits on no host that stays up" }.joined(separator: ", ")); nothing of it was moved\n"
                )
                return EvacExit.cannotStart
            }
            guard
                let graph = MigrationGraph.build(spec: phase, placements: result.placements, file: loaded.source.path)
                    .graph
            else {
                Console.error("error: the drain of \(b.hosts.joined(separator: "+")) has a cycle in its order rules\n")
                return EvacExit.invalidInput
            }
            phasePlan =
                PlanFile(
                    spec: phase,
                    planSource: .init(
                        path: URL(fileURLWithPath: loaded.source.path).lastPathComponent, sha256: loaded.sha256),
                    inventory: gathered.inventory, result: result, graph: graph,
                    timeline: Timeline.estimate(graph, options: MigrationOptionSet(phase)), hashed: false
                ).sealed().file
            let path = JournalLocation.journalPath(for: phasePlan, stateDirectory: stateDirectory)
            // Written first: a resume that finds no drain journal there places the batch again
            // (nothing moved yet); one that finds it continues that drain.
            b.stage = .draining
            b.phaseJournal = path
            b.updated = Timestamp.now()
            do { try await journal.commit(JournalBatch(runID: runID, cycle: [b])) } catch {
                Console.error("error: \(error)\n")
                return EvacExit.journalFailed
            }
            observer.handle(.cycle(b))
            do { phaseJournal = try SQLiteJournal(path: path, plan: phasePlan) } catch {
                Console.error("error: \(error)\n")
                return EvacExit.cannotStart
            }
        }
        defer { phaseJournal.close() }
        let executor = Executor(
            plan: phasePlan, hypervisor: hv, journal: run.journal(phaseJournal), observer: run.observer(plan: phasePlan)
        )
        let code = await RunExit.result(executor) { await $0.resume(retry: .all) }
        guard code == EvacExit.success else { return code }
        return await checkEmpty(b.hosts, skipped: Set(phasePlan.skipped.map(\.uuid)), hv)
    }

    /// No running guest is left on the hosts but those the plan leaves on purpose (select).
    private func checkEmpty(_ hosts: [String], skipped: Set<String>, _ hv: LibvirtHypervisor) async -> ExitCode {
        for host in hosts {
            guard let uri = spec.host(host)?.uri else { continue }
            do {
                let inv = try await hv.inspect(HostEndpoint(name: host, uri: uri))
                let left = inv.guests.filter { $0.state == .running || $0.state == .paused }
                let unexpected = left.filter { !skipped.contains($0.uuid) }
                if !unexpected.isEmpty {
                    Console.error(
                        "error: \(host) still runs \(unexpected.map(\.name).joined(separator: ", ")) after its drain; its maintenance does not start\n"
                    )
                    return EvacExit.partial
                }
                if !left.isEmpty {
                    Console.error(
                        "warning: \(host) still runs \(left.map(\.name).joined(separator: ", ")), left there by the plan's select\n"
                    )
                }
            } catch {
                Console.error("error: \(error.hostProblem); its maintenance does not start\n")
                return EvacExit.cannotStart
            }
        }
        return EvacExit.success
    }

    /// Polls the host every 2 s (each look bounded by the connection deadlines) until libvirt
    /// answers or `wait-for-host` passes; nil once it answered, else why not.
    private func waitForHost(_ host: String, control: CycleStop) async -> String? {
        guard let uri = spec.host(host)?.uri else { return "\(host) has no URI" }
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(Int64(rolling.waitForHostMs))
        var last = "not asked yet"
        while clock.now < deadline && !control.requested {
            // A fresh connection every time: the host's daemon restarted.
            let hv = LibvirtHypervisor(settings: settings)
            do {
                _ = try await hv.inspect(HostEndpoint(name: host, uri: uri))
                Console.error("\(host): libvirt answers\n")
                return nil
            } catch {
                last = error.hostProblem
            }
            try? await Task.sleep(for: .seconds(2))
        }
        return control.requested
            ? "stopped while waiting for \(host)"
            : "\(host) did not answer libvirt within \(Format.planDuration(ms: rolling.waitForHostMs)) (last: \(last)); `evac roll` waits again"
    }

    /// The batch's guests back to their hosts: the drain's rollback (resumable like any).
    private func returnGuests(_ b: CycleRecord) async -> ExitCode {
        guard let p = b.phaseJournal, let stored = try? JournalStatus.storedPlan(path: p) else {
            Console.error(
                "error: the drain journal of \(b.hosts.joined(separator: "+")) is missing; its guests cannot be returned by evac\n"
            )
            return EvacExit.cannotStart
        }
        let j: SQLiteJournal
        do { j = try SQLiteJournal(path: p, plan: stored) } catch {
            Console.error("error: \(error)\n")
            return EvacExit.cannotStart
        }
        defer { j.close() }
        let executor = Executor(
            plan: stored, hypervisor: LibvirtHypervisor(settings: settings), journal: run.journal(j),
            observer: run.observer(plan: stored))
        let standing = (try? JournalStatus.read(path: p)).map {
            RunStanding.of(runs: $0.runs, apply: $0.apply, rollback: $0.rollback)
        }
        if case .rolledBack? = standing { return EvacExit.success }
        return await RunExit.result(executor) { await $0.rollback(retry: .all) }
    }
}

/// Stop requests for the parts of a cycle that are not an executor's run (maintenance, waits).
final class CycleStop: @unchecked Sendable {
    private let lock = NSLock()
    private var graceful = false, hard = false
    func request(graceful g: Bool) {
        lock.withLock {
            if graceful || !g { hard = true }
            graceful = true
        }
        Console.error(
            g
                ? "\nstopping the cycle after the current stage (a maintenance command runs to its end); press Ctrl-C again to kill it\n"
                : "\nstopping now: a running maintenance command is killed with its process group\n")
    }
    var requested: Bool { lock.withLock { graceful } }
    var forced: Bool { lock.withLock { hard } }
}
