import EvacCoordinator
import EvacCore
import Foundation

/// plan file → inventory → placement → DAG → timeline → saved plan. Shared by `plan` and `apply`.
struct PlanPipeline {
    var loaded: LoadedPlan
    var inventory: Inventory
    var result: PlacementResult
    var graph: MigrationGraph
    var timeline: Timeline
    var planFile: PlanFile
    /// The plan file's canonical bytes (what `--output json` writes).
    var planFileData: Data
    /// Warnings to show (errors stop the pipeline).
    var warnings: [Diagnostic]

    enum Failure: Error {
        case invalid(String)
        case cannotStart(String)
    }

    /// `holds`: with a coordinator, what other runs hold (their drained hosts are no targets,
    /// their reservations are taken off their targets' memory) before placement.
    static func run(
        planPath: String, inventoryPath: String?, assumedBandwidth: UInt64,
        holds: FleetHolds? = nil
    ) async throws(Failure) -> PlanPipeline {
        let loaded: LoadedPlan
        do { loaded = try PlanLoader.load(path: planPath) } catch {
            if case .invalid(let s) = error { throw .invalid(s) }
            throw .invalid("")
        }
        let spec = loaded.spec
        let file = loaded.source.path
        let sources = [file: loaded.source]

        let clock = ContinuousClock()
        var t = clock.now
        func lap(_ what: String) {
            PlanLog.stage(what, ms: Double((clock.now - t) / .microseconds(1)) / 1000)
            t = clock.now
        }
        var gathered: InventoryGatherer.Outcome
        if let inventoryPath {
            do { gathered = try InventoryGatherer.snapshot(path: inventoryPath, spec: spec, file: file) } catch {
                throw .invalid("error: \(error)\n")
            }
        } else {
            gathered = await InventoryGatherer.live(spec, file: file)
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

        let result = Placer.place(spec: spec, inventory: gathered.inventory)
        lap("placement")
        PlanLog.decisions(result, inventory: gathered.inventory)
        let (graph, cycle) = MigrationGraph.build(spec: spec, placements: result.placements, file: file)
        guard let graph else {
            throw .invalid(
                DiagnosticRenderer.render(cycle + warnings, sources: sources) + PlanLoader.summary(cycle + warnings))
        }
        let timeline = Timeline.estimate(
            graph, bandwidth: spec.migration.bandwidthBytesPerSec, assumedBandwidth: assumedBandwidth)
        let planFile = PlanFile(
            spec: spec,
            planSource: .init(path: URL(fileURLWithPath: file).lastPathComponent, sha256: loaded.sha256),
            inventory: gathered.inventory, result: result, graph: graph, timeline: timeline,
            hashed: false
        ).sealed()
        return PlanPipeline(
            loaded: loaded, inventory: gathered.inventory, result: result, graph: graph,
            timeline: timeline, planFile: planFile.file, planFileData: planFile.data, warnings: warnings.sorted())
    }

    var renderedWarnings: String {
        DiagnosticRenderer.render(warnings, sources: [loaded.source.path: loaded.source])
    }
}
