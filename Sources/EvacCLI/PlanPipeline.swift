import EvacCoordinator
import EvacCore
import EvacLibvirt
import Foundation

/// plan file → inventory → placement → DAG → timeline → saved plan. Shared by `plan` and `apply`.
struct PlanPipeline {
    var loaded: LoadedPlan
    var inventory: Inventory
    var result: PlacementResult
    var graph: MigrationGraph
    var timeline: Timeline
    /// The duration model the estimate used, and its prediction for each node (graph order).
    var model: DurationModel
    var predictions: [DurationModel.Prediction]
    var planFile: PlanFile
    /// The plan file's canonical bytes (what `--output json` writes).
    var planFileData: Data
    /// Warnings to show (errors stop the pipeline).
    var warnings: [Diagnostic]

    /// `holds`: with a coordinator, what other runs hold (their drained hosts are no targets,
    /// their reservations are taken off their targets' memory) before placement.
    static func run(
        planPath: String, inventoryPath: String?, assumedBandwidth: UInt64, connection: ConnectionOptions,
        readConcurrency: Int = InventoryReader.defaultConcurrency, dirtyRates: Bool = true,
        holds: FleetHolds? = nil, refinements: DurationModel.Refinements = .measured
    ) async throws(CLIFailure) -> PlanPipeline {
        let loaded: LoadedPlan
        loaded = try PlanLoader.load(path: planPath)
        let spec = loaded.spec
        let file = loaded.source.path
        let sources = [file: loaded.source]
        if spec.rolling != nil {
            // Placing every source at once is exactly what a rolling cycle must not do.
            throw .invalid(
                "error: \(TerminalText.escape(planPath)) is a rolling cycle (it has rolling:): its sources drain one batch at a time\n"
                    + "    help: `evac roll --dry-run \(ShellWord.quote(planPath))` checks each batch fits; `evac roll \(ShellWord.quote(planPath))` runs the cycle\n"
            )
        }

        let clock = ContinuousClock()
        var t = clock.now
        func lap(_ what: String) {
            PlanLog.stage(what, ms: Double((clock.now - t) / .microseconds(1)) / 1000)
            t = clock.now
        }
        var gathered: InventoryGatherer.Outcome
        if let inventoryPath {
            gathered = try InventoryGatherer.snapshot(path: inventoryPath, spec: spec, file: file)
        } else {
            gathered = await InventoryGatherer.live(
                spec, file: file, settings: connection.settings(spec.connection),
                concurrency: readConcurrency, dirtyRates: dirtyRates)
        }
        lap(inventoryPath == nil ? "reading the live inventory" : "reading the inventory snapshot")
        if gathered.sourceUnreachable {
            throw .cannotStart(DiagnosticRenderer.render(gathered.diagnostics, sources: sources))
        }
        if let holds {
            gathered.inventory = FleetHoldsView.apply(
                holds, to: gathered.inventory, sources: Set(spec.sources.map(\.value)))
        }
        var warnings = loaded.warnings + gathered.diagnostics
        warnings += InventoryChecks.check(spec, inventory: gathered.inventory, file: file)
        lap("checks of the plan against the inventory")

        let result = Placer.place(spec: spec, inventory: gathered.inventory)
        lap("placement")
        PlanLog.decisions(result, inventory: gathered.inventory)
        lap("logging the placements")
        var (built, cycle) = MigrationGraph.build(spec: spec, placements: result.placements, file: file)
        cycle += spec.offlineFallbackRefusals(result.placements, file: file)
        guard let unordered = built, cycle.isEmpty else {
            throw .invalid(
                DiagnosticRenderer.render(cycle + warnings, sources: sources) + PlanLoader.summary(cycle + warnings))
        }
        lap("migration graph")
        var model = DurationModel()
        model.assumedBandwidthBytesPerSec = assumedBandwidth
        model.refinements = refinements
        let drain = DrainEstimate(
            unordered, options: MigrationOptionSet(spec), order: spec.placement.order, model: model,
            loads: gathered.inventory.migrationLoads)
        let (graph, predictions, timeline) = (drain.graph, drain.predictions, drain.timeline)
        lap("order and timeline")
        let planFile = PlanFile(
            spec: spec,
            planSource: .init(path: URL(fileURLWithPath: file).lastPathComponent, sha256: loaded.sha256),
            inventory: gathered.inventory, result: result, graph: graph, timeline: timeline,
            hashed: false
        ).sealed()
        lap("plan file (fingerprint, encoding, hash)")
        return PlanPipeline(
            loaded: loaded, inventory: gathered.inventory, result: result, graph: graph,
            timeline: timeline, model: model, predictions: predictions, planFile: planFile.file,
            planFileData: planFile.data, warnings: warnings.sorted())
    }

    var renderedWarnings: String {
        DiagnosticRenderer.render(warnings, sources: [loaded.source.path: loaded.source])
    }
}
