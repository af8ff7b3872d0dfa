import ArgumentParser
import EvacCoordinator
import EvacCore
import EvacLibvirt
import EvacRun
import Foundation

/// apply, resume, rollback and status with a coordinator (`--coordinator`, `$EVAC_COORDINATOR`):
/// the journal is in its database, so any machine that reaches it runs, resumes, rolls back or
/// shows the run; the executor counts what other runs hold on each target, and the database's
/// run lease (one live run per plan name, fleet-wide) takes the place of the state directory's
/// run lock.
enum CoordinatedRun {
    /// The option's text, else $EVAC_COORDINATOR; nil when neither is set (or both are empty).
    static func urlText(
        _ option: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    )
        -> String?
    {
        if let option, !option.isEmpty { return option }
        if let e = environment["EVAC_COORDINATOR"], !e.isEmpty { return e }
        return nil
    }

    /// A connection to the coordinator; notices (waiting through an outage, recovered, lease
    /// taken over) go to standard error. A bad URL is invalid input; the URL never holds a
    /// password (it is refused), so the messages may name it.
    static func connect(_ text: String) throws -> Coordinator {
        let url: CoordinatorURL
        switch CoordinatorURL.parse(text) {
        case .success(let u): url = u
        case .failure(let e):
            Console.error("error: --coordinator: \(e)\n")
            throw EvacExit.invalidInput
        }
        do {
            return try Coordinator(url: url, notice: { Console.error(TerminalText.escapeKeepingLines($0) + "\n") })
        } catch {
            Console.error("error: \(error)\n")
            throw EvacExit.cannotStart
        }
    }

    /// `evac apply` with a coordinator. One plan, one run, as without one: when the plan name's
    /// newest journal has a run that is not over and is of this very plan (the same YAML text,
    /// or the same saved plan), apply continues it as resume does, on the targets it planned.
    /// Otherwise the plan is placed counting what other runs hold (`place`) and run in its
    /// journal in the database (a changed plan beside an open run is refused there, by lease).
    static func apply(
        _ reference: String, url: String, run: RunOptions, connection: ConnectionOptions,
        place: (FleetHolds) async throws -> PlanFile
    ) async throws {
        let coordinator = try connect(url)
        let code: ExitCode
        do {
            if let open = try await openRun(of: reference, coordinator) {
                Console.error(
                    "note: plan \(open.planName) has a run that is not over; apply continues it as `evac resume \(open.planName)` does\n"
                )
                code = await withJournal(coordinator, plan: open, run: run, connection: connection) { executor, _ in
                    await RunExit.result(executor, unplaceable: open.unplaceable.map(\.guest)) {
                        await $0.resume(retry: .all)
                    }
                }
            } else {
                let name: String
                name = try PlanRunLock.planName(of: reference)
                let plan = try await place(try await coordinator.holds(otherThan: name))
                code = await withJournal(coordinator, plan: plan, run: run, connection: connection) {
                    executor, journal in
                    let started = (try? await journal.steps(kind: .apply).isEmpty == false) ?? false
                    return await RunExit.result(executor, unplaceable: plan.unplaceable.map(\.guest)) {
                        started ? await $0.resume(retry: .all) : await $0.apply()
                    }
                }
            }
        } catch let e as CoordinatorError {
            Console.error("error: \(e)\n")
            code = EvacExit.cannotStart
        }
        await coordinator.shutdown()
        if code != EvacExit.success { throw code }
    }

    /// The stored plan of the plan name's newest journal when its run is not over and it is the
    /// plan `reference` names (its YAML text's SHA-256, or a saved plan file's hash).
    static func openRun(of reference: String, _ coordinator: Coordinator) async throws -> PlanFile? {
        let name = try PlanRunLock.planName(of: reference)
        guard let newest = try await coordinator.journals(planName: name).first else { return nil }
        let stored = try await coordinator.storedPlan(journal: newest)
        let status = try await coordinator.status(planName: stored.planName, planHash: stored.planHash)
        let standing = RunStanding.of(runs: status.runs, apply: status.apply, rollback: status.rollback)
        guard !status.runs.isEmpty, !standing.isOver else { return nil }
        switch PlanReference.kind(of: reference) {
        case .yaml:
            return try PlanReference.loadYAML(reference).sha256 == stored.planSource.sha256 ? stored : nil
        case .planFile:
            return try PlanReference.loadPlanFile(reference).planHash == stored.planHash ? stored : nil
        case .journal: return nil
        }
    }

    /// What other runs hold, for placing the plan `reference` names; nil without a coordinator.
    static func holds(for reference: String, url: String?) async throws -> FleetHolds? {
        guard let url else { return nil }
        let coordinator = try connect(url)
        let found: Result<FleetHolds, any Error>
        do {
            let name: String
            name = try PlanRunLock.planName(of: reference)
            found = .success(try await coordinator.holds(otherThan: name))
        } catch let e as CoordinatorError {
            Console.error("error: \(e)\n")
            found = .failure(EvacExit.cannotStart)
        } catch { found = .failure(error) }
        await coordinator.shutdown()
        return try found.get()
    }

    enum Operation: Sendable {
        case resume(RetrySelection)
        case rollback
    }

    /// `evac resume` / `evac rollback` with a coordinator: REFERENCE is a plan (YAML), a saved
    /// plan file, a plan name or a journal key; the newest journal of that plan name is used,
    /// with the plan it sealed (checked against its hash).
    static func continueRun(
        _ reference: String, _ operation: Operation, url: String, run: RunOptions, connection: ConnectionOptions,
        migration: (MigrationOptions) -> MigrationOptions? = { _ in nil }
    ) async throws {
        let coordinator = try connect(url)
        var plan = try await storedPlan(reference, coordinator)
        // Every group's options too: the override holds for every migration of this run.
        plan.policy = plan.policy.changingMigrationOptions { migration($0) ?? $0 }
        let code = await withJournal(coordinator, plan: plan, run: run, connection: connection) { executor, _ in
            await RunExit.result(executor) { e in
                switch operation {
                case .resume(let retry): return await e.resume(retry: retry)
                case .rollback: return await e.rollback()
                }
            }
        }
        await coordinator.shutdown()
        if code != EvacExit.success { throw code }
    }

    /// The sealed plan of the newest journal REFERENCE names.
    static func storedPlan(_ reference: String, _ coordinator: Coordinator) async throws -> PlanFile {
        do {
            return try await coordinator.storedPlan(journal: try await journalKey(reference, coordinator))
        } catch let e as CoordinatorError {
            Console.error("error: \(e)\n")
            throw EvacExit.cannotStart
        }
    }

    static func journalKey(_ reference: String, _ coordinator: Coordinator) async throws -> String {
        var name = reference
        if FileManager.default.fileExists(atPath: reference) {
            name = try PlanRunLock.planName(of: reference)
        }
        let keys = try await coordinator.journals(planName: name)
        if let newest = keys.first { return newest }
        // A journal key as `evac status --all` lists it ("rack12-<hash>").
        if let dash = reference.lastIndex(of: "-"),
            try await coordinator.journals(planName: String(reference[..<dash])).contains(reference)
        {
            return reference
        }
        throw CoordinatorError.database(
            "no journal of plan \(name) in \(coordinator.url.server)\n    help: `evac status --all --coordinator …` lists them"
        )
    }

    /// Opens the plan's journal in the database, runs `body` with an executor on it, closes it.
    private static func withJournal(
        _ coordinator: Coordinator, plan: PlanFile, run: RunOptions, connection: ConnectionOptions,
        _ body: (Executor, PostgresJournal) async -> ExitCode
    ) async -> ExitCode {
        let journal: PostgresJournal
        do { journal = try await coordinator.journal(for: plan) } catch {
            Console.error("error: \(error)\n")
            return EvacExit.cannotStart
        }
        defer { journal.close() }
        let executor = Executor(
            plan: plan, hypervisor: LibvirtHypervisor(settings: connection.settings(plan.connection)),
            journal: RunObservers.journal(journal),
            observer: run.observer(plan: plan), coordinator: PostgresCoordinator(journal: journal))
        return await body(executor, journal)
    }
}
