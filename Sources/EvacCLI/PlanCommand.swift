import ArgumentParser
import EvacCore
import EvacHTML
import Foundation

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Resolve a plan against the live inventory (or a snapshot) and report placements; changes nothing.",
        discussion:
            "Exit codes: 0 every guest placed; 1 some guests unplaceable; 2 invalid plan; 3 a source unreachable; 4 interrupted by a signal."
    )

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case text, json, dot, html
    }

    @Argument(help: "The plan file (YAML).", completion: .file(extensions: ["yaml", "yml"]))
    var plan: String

    @Option(
        name: .long, help: "Plan from this inventory snapshot (from `evac inventory`) instead of live libvirt.",
        completion: .file(extensions: ["json"]))
    var inventory: String?

    @Option(
        name: .long,
        help:
            "text: a report for people; json: the saved plan file `evac apply` consumes; dot: the migration DAG for Graphviz; html: one self-contained page (timeline, target memory, unplaceable guests)."
    )
    var output: OutputFormat = .text

    @Option(
        name: [.customShort("o"), .customLong("out")],
        help: "Write the output to this file instead of standard output.",
        completion: .file())
    var out: String?

    @OptionGroup var estimate: EstimateOptions

    @OptionGroup var connection: ConnectionOptions
    @Option(
        name: .long,
        help: ArgumentHelp(
            "With --output html: a maintenance window this long after the start (e.g. 2h), under the plan's window rule (late: skip unless it says start): the page shows what evac apply is predicted to start in it. Without it, the plan's window: (an end time counted from now).",
            valueName: "DURATION"),
        transform: DurationArgument.init)
    var window: DurationArgument?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The coordinator (a PostgreSQL URL): place around what other runs hold (hosts they drain are no targets, memory they reserved is taken off their targets).",
            discussion:
                "Default: $EVAC_COORDINATOR. Not for --output json: a saved plan is placed against libvirt's inventory only, and `evac apply` pre-checks it against the fleet's holds.",
            valueName: "URL"))
    var coordinator: String?
    @OptionGroup var reading: InventoryOptions

    @OptionGroup var logging: LogOptions

    func validate() throws {
        if coordinator != nil && output == .json {
            throw ValidationError(
                "--coordinator is not for --output json: a saved plan is placed against libvirt's inventory only (its fingerprint must match it), and `evac apply --coordinator` pre-checks it against what other runs hold"
            )
        }
        if let out, out.hasSuffix("/") { throw ValidationError("--out must name a file, not a directory") }
    }

    func run() async throws {
        // A saved plan file is placed against libvirt's inventory only, whatever the environment.
        let holds =
            output == .json ? nil : try await CoordinatedRun.holds(for: plan, url: CoordinatedRun.urlText(coordinator))
        let p: PlanPipeline
        p = try await PlanPipeline.run(
            planPath: plan, inventoryPath: inventory, assumedBandwidth: estimate.assumeBandwidth.bytesPerSec,
            connection: connection, readConcurrency: reading.readConcurrency, dirtyRates: reading.dirtyRate,
            holds: holds, refinements: estimate.refinements)
        Console.error(p.renderedWarnings)
        let data: Data
        switch output {
        case .text: data = Data(HumanReport.render(p).utf8)
        case .json: data = p.planFileData
        case .dot: data = Data(DotRenderer.render(p.graph, planName: p.loaded.spec.name).utf8)
        case .html: data = Data(PlanPage.render(plan: p.planFile, timeline: p.timeline, window: windowEnd(p)).utf8)
        }
        try Console.write(data, to: out)
        ProcessLifetime.keepUntilExit((p, data))
        if !p.result.unplaceable.isEmpty { throw EvacExit.partial }
    }
}

extension PlanCommand {
    /// `--window`, else the plan's `window:` (an end time as if the run started now).
    func windowEnd(_ p: PlanPipeline) -> PlanPage.Window? {
        let planned = p.loaded.spec.window
        if let window {
            // A what-if window under the plan's rule (`late`), else the executor's default.
            let rule = MaintenanceWindow(durationMs: window.milliseconds, late: planned?.late ?? .skip)
            return PlanPage.Window(endMs: Double(window.milliseconds), rule: rule)
        }
        guard let w = planned else { return nil }
        let now = Date()
        return PlanPage.Window(endMs: max(0, w.closesMs(runStart: now)), rule: w)
    }
}
