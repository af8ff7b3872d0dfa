import ArgumentParser
import Foundation
import EvacCore
import EvacLibvirt
import EvacRun

struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Run a plan's migrations through libvirt, journaled so that the run can be resumed or rolled back.",
        discussion: """
        PLAN is a plan (YAML: placed against the live inventory now) or a saved plan file \
        (`evac plan … --output json`), which is refused when the inventory changed since it was \
        computed (unless --force). The first SIGINT/SIGTERM starts no new migration and lets those \
        in flight finish; a second aborts them (guests stay on their sources). \
        Exit codes: 0 all done; 1 some failed, blocked or unplaceable; 2 invalid input; \
        3 cannot start (journal locked, source unreachable, stale plan); 4 interrupted; 5 journal write failed.
        """)

    @Argument(help: "The plan (YAML) or saved plan file (JSON).", completion: .file(extensions: ["yaml", "yml", "json"]))
    var plan: String

    @Flag(name: .long, help: "Connect, run every pre-check against live libvirt, print the order and the estimated timeline; change nothing.")
    var dryRun = false

    @Flag(name: .long, help: "Apply a saved plan although the inventory changed since it was computed.")
    var force = false

    @Option(name: .long, help: "Bandwidth assumed for the timeline estimate when the plan sets none (e.g. 1GiB/s).")
    var assumeBandwidth: String = "1GiB/s"

    @OptionGroup var run: RunOptions

    @OptionGroup var reading: InventoryOptions

    @OptionGroup var logging: LogOptions

    func validate() throws {
        if case .failure(let f) = Units.bandwidth(assumeBandwidth) { throw ValidationError("--assume-bandwidth: \(f.message)") }
        if PlanReference.kind(of: plan) == .journal {
            throw ValidationError("apply takes a plan or a saved plan file; to continue a journaled run use `evac resume \(plan)`")
        }
    }

    func run() async throws {
        // Taken before anything is read: a second apply of this plan is refused naming the
        // first, rather than planning from an inventory the first is changing.
        var runLock: JournalLock?
        if !dryRun {
            do { runLock = try PlanRunLock.acquire(planName: try PlanRunLock.planName(of: plan), stateDirectory: run.stateDirectory) }
            catch { throw error.exit }
        }
        defer { runLock?.release() }
        let resolved: (file: PlanFile, unplaceable: Int)
        do { resolved = try await resolvePlan() } catch { throw error.exit }
        let planFile = resolved.file
        let hypervisor = LibvirtHypervisor()

        if dryRun {
            let executor = Executor(plan: planFile, hypervisor: hypervisor, journal: MemoryJournal())
            let checks = await executor.dryRun()
            Console.out(DryRunReport.render(planFile, checks))
            if checks.contains(where: { $0.problem != nil }) || resolved.unplaceable > 0 { throw EvacExit.partial }
            return
        }

        let journalPath = JournalLocation.journalPath(for: planFile, stateDirectory: run.stateDirectory)
        try closeFinishedJournal(journalPath)
        let journal: SQLiteJournal
        do { journal = try SQLiteJournal(path: journalPath, plan: planFile, force: force) }
        catch { Console.error("error: \(error)\n"); throw EvacExit.cannotStart }
        defer { journal.close() }
        let executor = Executor(plan: planFile, hypervisor: hypervisor, journal: run.journal(journal), observer: run.observer())
        try await RunExit.run(executor, unplaceable: planFile.unplaceable.map(\.guest)) { await $0.apply() }
    }

    /// A journal whose run ended with a complete rollback is kept under another name, so that
    /// the plan runs again instead of being sent to a resume with nothing to do.
    func closeFinishedJournal(_ path: String) throws {
        guard let status = try? JournalStatus.read(path: path), let why = JournalArchive.closedReason(status) else { return }
        do {
            let kept = try JournalArchive.archive(path: path)
            Console.error("note: the last run of this plan is over (\(why)); its journal is kept as \(kept)\n")
        } catch {
            Console.error("error: \(error)\n")
            throw EvacExit.cannotStart
        }
    }

    /// The plan file to run: placed now from YAML, or a saved one checked against the live inventory.
    func resolvePlan() async throws(CLIFailure) -> (file: PlanFile, unplaceable: Int) {
        if PlanReference.kind(of: plan) == .yaml {
            let assumed = (try? Units.bandwidth(assumeBandwidth).get()) ?? (1 << 30)
            let p: PlanPipeline
            do { p = try await PlanPipeline.run(planPath: plan, inventoryPath: nil, assumedBandwidth: assumed,
                                                 readConcurrency: reading.readConcurrency) }
            catch {
                switch error {
                case .invalid(let s): throw .invalid(s)
                case .cannotStart(let s): throw .cannotStart(s)
                }
            }
            Console.error(p.renderedWarnings)
            for u in p.result.unplaceable {
                Console.error("unplaceable: \(u.guest) on \(u.source): \(u.guestReason ?? u.candidates.map { "\($0.target): \($0.reason)" }.joined(separator: "; "))\n")
            }
            return (p.planFile, p.result.unplaceable.count)
        }
        let file = try PlanReference.loadPlanFile(plan)
        let hosts = Set(file.sources + file.targets).sorted().compactMap { name in file.uri(of: name).map { (name: name, uri: $0) } }
        let live = await InventoryReader.inventory(hosts: hosts, concurrency: reading.readConcurrency)
        if live.fingerprint != file.inventoryFingerprint {
            let found = StaleCheck.findings(plan: file, live: live)
            for t in found.unreachableTargets {
                Console.error("warning: target \(t); its migrations will be blocked, the others run\n")
            }
            let text = found.changes.map { "  \($0)\n" }.joined()
            if !found.changes.isEmpty && !force {
                throw .cannotStart("error: \(plan) is stale: the inventory changed since it was planned:\n\(text)    help: plan again (`evac plan … --output json`), or apply anyway with --force\n")
            }
            if !found.changes.isEmpty {
                Console.error("warning: applying a stale plan (--force); changes since it was planned:\n\(text)")
            }
        }
        return (file, file.unplaceable.count)
    }
}
