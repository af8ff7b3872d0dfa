import ArgumentParser
import EvacCore
import EvacRun
import Foundation

struct RollCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roll",
        abstract:
            "Run a rolling maintenance cycle: drain each batch of hosts, run its maintenance, wait for it, return its guests.",
        discussion: """
            PLAN is a plan with a `rolling:` section. Its sources are taken `at-a-time` at a time, in \
            the order listed; before anything starts, every batch's guests are placed on the hosts \
            that stay up (N+1), and the cycle is refused if one does not fit. Each batch: its drain \
            (placed against the live fleet at that moment; a run journaled like `evac apply`), its \
            hosts' maintenance commands (`rolling.maintenance`, argv hooks with deadlines), a wait \
            until libvirt answers on them again (`wait-for-host`), its guests' return (`return-guests`, \
            the drain's rollback). Every stage is journaled before it begins: `evac roll PLAN` again \
            (after a failure, a signal or kill -9) continues where the cycle stands; `evac status` of \
            the cycle's journal shows each batch's stage. \
            Exit codes: 0 cycle complete; 1 a drain, return or maintenance command failed; 2 invalid \
            input; 3 cannot start (a batch does not fit, a host does not answer, journal locked); 4 \
            interrupted; 5 journal write failed.
            """)

    @Argument(help: "The plan (YAML) with a rolling: section.", completion: .file(extensions: ["yaml", "yml"]))
    var plan: String

    @Flag(
        name: .long,
        help: "Read the live fleet, show whether each batch's guests fit on the hosts that stay up, and change nothing."
    )
    var dryRun = false

    @OptionGroup var run: RunOptions
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var logging: LogOptions

    func validate() throws {
        // A cycle's drains would run uncoordinated (their journals are files, no leases, no
        // reservations): refused rather than silently outside the fleet's rules.
        if !dryRun, run.coordinatorURL != nil {
            throw ValidationError(
                "evac roll does not run through a coordinator yet: its drains would take no leases and reserve nothing. Unset EVAC_COORDINATOR (and leave out --coordinator) for this cycle, and run it when no other run targets its hosts; `evac roll --dry-run` works either way"
            )
        }
    }

    func run() async throws {
        let loaded = try PlanLoader.load(path: plan)
        Console.error(DiagnosticRenderer.render(loaded.warnings, sources: [loaded.source.path: loaded.source]))
        guard let rolling = loaded.spec.rolling else {
            Console.error(
                "error: \(plan) has no rolling: section\n    help: `evac apply \(ShellWord.quote(plan))` drains all its sources at once; add `rolling: { at-a-time: 1 }` to take them one at a time\n"
            )
            throw EvacExit.invalidInput
        }
        let cycle = RollingCycle(
            loaded: loaded, rolling: rolling, stateDirectory: run.stateDirectory, run: run, connection: connection)
        if dryRun {
            let (report, refused) = await cycle.capacityCheck()
            Console.out(report)
            if refused { throw EvacExit.cannotStart }
            return
        }
        let code = await cycle.execute()
        if code != EvacExit.success { throw code }
    }
}
