import ArgumentParser
import EvacCoordinator
import EvacCore
import EvacLibvirt
import EvacRun
import Foundation

struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Run a plan's migrations through libvirt, journaled so that the run can be resumed or rolled back.",
        discussion: """
            PLAN is a plan (YAML: placed against the live inventory now) or a saved plan file \
            (`evac plan … --output json`), which is refused when the inventory changed since it was \
            computed (unless --force). The first SIGINT/SIGTERM starts no new migration and lets those \
            in flight finish; a second aborts them (guests stay on their sources). \
            One plan, one run: when the plan's name already has a run that is not over, apply of the \
            same plan (unchanged YAML text, or the same saved plan) continues that run as resume does, \
            and a changed plan is refused with the commands that finish or undo the open run. \
            Exit codes: 0 all done; 1 some failed, blocked or unplaceable; 2 invalid input; \
            3 cannot start (journal locked, source unreachable, stale plan); 4 interrupted; 5 journal write failed.
            """)

    @Argument(
        help: "The plan (YAML) or saved plan file (JSON).", completion: .file(extensions: ["yaml", "yml", "json"]))
    var plan: String

    @Flag(
        name: .long,
        help:
            "Connect, run every pre-check against live libvirt, print the order and the estimated timeline; change nothing."
    )
    var dryRun = false

    @Flag(name: .long, help: "Apply a saved plan although the inventory changed since it was computed.")
    var force = false

    @OptionGroup var estimate: EstimateOptions

    @OptionGroup var run: RunOptions

    @OptionGroup var reading: InventoryOptions
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var logging: LogOptions

    func validate() throws {
        if PlanReference.kind(of: plan) == .journal {
            throw ValidationError(
                "apply takes a plan or a saved plan file; to continue a journaled run use `evac resume \(plan)`")
        }
    }

    func run() async throws {
        if !dryRun, let url = run.coordinatorURL {
            // The database's run lease (one live run per plan name, fleet-wide) is the lock.
            return try await CoordinatedRun.apply(plan, url: url, run: run, connection: connection) { holds in
                try await resolvePlan(holds: holds).file
            }
        }
        // Taken before anything is read: a second apply of this plan is refused naming the
        // first, rather than planning from an inventory the first is changing.
        var runLock: JournalLock?
        if !dryRun {
            runLock = try PlanRunLock.acquire(
                planName: try PlanRunLock.planName(of: plan), stateDirectory: run.stateDirectory)
        }
        defer { runLock?.release() }
        if let runLock, try await continuedOpenRun(runLock) { return }
        let resolved = try await resolvePlan()
        let planFile = resolved.file
        let hypervisor = LibvirtHypervisor(settings: connection.settings(planFile.connection))

        if dryRun {
            let executor = Executor(plan: planFile, hypervisor: hypervisor, journal: MemoryJournal())
            let result = await executor.dryRun()
            // --output json asks for JSON here too (a table on stdout would break the script reading it).
            Console.out(
                run.output == .json ? DryRunReport.json(planFile, result) : DryRunReport.render(planFile, result))
            let code = DryRunReport.exitCode(planFile, result)
            if code != EvacExit.success { throw code }
            return
        }

        let journalPath = JournalLocation.journalPath(for: planFile, stateDirectory: run.stateDirectory)
        let journal: SQLiteJournal
        do { journal = try SQLiteJournal(path: journalPath, plan: planFile, force: force) } catch {
            Console.error("error: \(error)\n")
            throw EvacExit.cannotStart
        }
        defer { journal.close() }
        let executor = Executor(
            plan: planFile, hypervisor: hypervisor, journal: run.journal(journal),
            observer: run.observer(plan: planFile))
        try await RunExit.run(executor, unplaceable: planFile.unplaceable.map(\.guest)) { await $0.apply() }
    }

    /// One plan, one run. When the plan's name already has a run that is not over (PlanRuns),
    /// `apply` never starts a second one beside it:
    /// - the same plan (the YAML's text unchanged, or the same saved plan file) → apply continues
    ///   that run, exactly as `evac resume JOURNAL` would: reconcile with the hosts, then run what
    ///   is not done (failed and blocked steps included) on the targets it planned. This is what
    ///   the operator who types the same command again at 3 a.m. means — "finish the job" — and
    ///   it is safe: every step is pre-checked against the live hosts before it starts, nothing
    ///   done is redone, and the plan they reviewed is the plan that runs. (Re-placing the rest
    ///   against today's inventory would silently change reviewed targets; a plan whose run is
    ///   over, or that never started a migration, is placed afresh.)
    /// - a changed plan, or a run being rolled back → refused, exit 3, with the exact commands
    ///   that finish or undo the open run: two runs of one name would each move guests the
    ///   other's rollback does not know.
    /// Otherwise journals of the name that are over are kept under closed names, and the plan
    /// is placed and run in a new journal. Returns true when it continued a run.
    func continuedOpenRun(_ runLock: JournalLock) async throws -> Bool {
        let name = try PlanRunLock.planName(of: plan)
        let runs = try PlanRuns.find(planName: name, stateDirectory: run.stateDirectory)
        if runs.live.count > 1 { throw runs.severalLive(name, "resume") }
        guard let open = runs.live.first else {
            for e in runs.entries { try close(e) }
            return false
        }
        let j = ShellWord.quote(open.path)
        let what = "\(open.path) (\(PlanRuns.describe(open)))"
        if open.standing == .rollingBack {
            throw CLIFailure.cannotStart(
                "error: plan \(name) is being rolled back: \(what)\n    help: finish the rollback with `evac rollback \(j)`, then apply again\n"
            )
        }
        guard try isSamePlan(as: open) else {
            throw CLIFailure.cannotStart(
                "error: plan \(name) already has a run that is not over: \(what); \(plan) is not the plan it runs (\(PlanReference.kind(of: plan) == .yaml ? "its text changed since that run began" : "another saved plan")); one run per plan name\n"
                    + "    help: finish that run with `evac resume \(j)`, or return its guests with `evac rollback \(j)`; then apply the changed plan (or give it another name)\n"
            )
        }
        Console.error(
            "note: plan \(name) has a run that is not over: \(what); apply continues it as `evac resume \(j)` does (reconcile with the hosts, then run what is not done, on the targets it planned)\n"
        )
        let opened = try JournaledRun.open(
            journal: open.path, runLock: runLock, force: false, run: run, connection: connection)
        defer { opened.journal.close() }
        try await RunExit.run(opened.executor, unplaceable: opened.plan.unplaceable.map(\.guest)) {
            await $0.resume(retry: .all)
        }
        return true
    }

    /// The plan of the open run: the same YAML text (its SHA-256 is in the stored plan), or the
    /// same saved plan file (its hash).
    private func isSamePlan(as open: PlanRuns.Entry) throws -> Bool {
        switch PlanReference.kind(of: plan) {
        case .yaml:
            let stored = try? JournalStatus.storedPlan(path: open.path)
            return stored?.planSource.sha256 == (try PlanReference.loadYAML(plan)).sha256
        case .planFile:
            return try PlanReference.loadPlanFile(plan).planHash == open.status.planHash
        case .journal:
            return false
        }
    }

    /// A journal whose run is over (rolled back, or no migration ever started) is kept under a
    /// closed name, so that the plan runs again instead of being sent to a resume.
    private func close(_ e: PlanRuns.Entry) throws {
        guard let why = e.standing.overReason else { return }
        do {
            let kept = try JournalArchive.archive(path: e.path)
            Console.error("note: the last run of this plan is over (\(why)); its journal is kept as \(kept)\n")
        } catch {
            Console.error("error: \(error)\n")
            throw EvacExit.cannotStart
        }
    }

    /// The plan file to run: placed now from YAML, or a saved one checked against the live inventory.
    /// `holds`: with a coordinator, what other runs hold, counted by placement (YAML plans).
    func resolvePlan(holds: FleetHolds? = nil) async throws(CLIFailure) -> (file: PlanFile, unplaceable: Int) {
        if PlanReference.kind(of: plan) == .yaml {
            let p: PlanPipeline
            p = try await PlanPipeline.run(
                planPath: plan, inventoryPath: nil, assumedBandwidth: estimate.assumeBandwidth.bytesPerSec,
                connection: connection, readConcurrency: reading.readConcurrency, dirtyRates: reading.dirtyRate,
                holds: holds, refinements: estimate.refinements)
            Console.error(p.renderedWarnings)
            for u in p.result.unplaceable {
                Console.error(
                    "unplaceable: \(u.guest) on \(u.source): \(u.why)\n"
                )
            }
            return (p.planFile, p.result.unplaceable.count)
        }
        let file = try PlanReference.loadPlanFile(plan)
        let hosts = Set(file.sources + file.targets).sorted().compactMap { name in
            file.uri(of: name).map { (name: name, uri: $0) }
        }
        let live = await InventoryReader.inventory(
            hosts: hosts, settings: connection.settings(file.connection),
            concurrency: reading.readConcurrency, dirtyRates: false)
        // The saved plan's predictions stand; dirty rates are momentary and not compared.
        // Always compared, not only when the fingerprint differs: host memory is not in it.
        let found = StaleCheck.findings(plan: file, live: live)
        for t in found.unreachableTargets {
            Console.error("warning: target \(t); its migrations will be blocked, the others run\n")
        }
        let text = found.changes.map { "  \($0)\n" }.joined()
        if !found.changes.isEmpty && !force {
            throw .cannotStart(
                "error: \(plan) is stale: the inventory changed since it was planned:\n\(text)    help: plan again (`evac plan … --output json`), or apply anyway with --force\n"
            )
        }
        if !found.changes.isEmpty {
            Console.error("warning: applying a stale plan (--force); changes since it was planned:\n\(text)")
        }
        return (file, file.unplaceable.count)
    }
}
