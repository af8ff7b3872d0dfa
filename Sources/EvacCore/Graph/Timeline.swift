/// An estimate of the drain: each migration's duration from the `DurationModel`, and the DAG
/// walked under its limits by the executor's own `SlotScheduler`, so that the predicted start
/// of every migration follows the slot rules the run obeys.
public struct Timeline: Codable, Hashable, Sendable {
    /// When one migration starts and ends in the estimate.
    public struct Entry: Codable, Hashable, Sendable {
        /// The migration's node id.
        public var id: Int
        /// Milliseconds from the start of the run.
        public var startMs: Double
        /// Milliseconds from the start of the run; the next migration it holds back starts here.
        public var endMs: Double
        /// How the model predicts the migration ends; nil for durations read back from a plan file.
        public var outcome: DurationModel.Outcome?
        /// How long the model says it takes.
        public var durationMs: Double { endMs - startMs }
    }
    /// In the graph's order.
    public var entries: [Entry]
    /// The makespan: the end of the last migration.
    public var totalMs: Double
    /// The bandwidth the estimate assumed where the plan sets no cap, so the report can say so.
    public var assumedBandwidthBytesPerSec: UInt64
    /// The fixed cost counted into every migration (connection, target start, post-check), ms.
    public var setupMs: Double

    /// What the model needs to know about a guest beyond the graph node, by guest UUID.
    public struct Load: Hashable, Sendable {
        /// How fast the guest dirties its memory; nil when it was not measured (taken as idle).
        public var dirtyBytesPerSec: UInt64?
        /// Bytes of local disk copied with it (storage copy).
        public var storageBytes: UInt64
        /// The guest's QEMU resident memory, bytes; nil = not read.
        public var residentBytes: UInt64?
        /// A guest's load; the defaults are an idle guest with shared storage, resident size unknown.
        public init(dirtyBytesPerSec: UInt64? = nil, storageBytes: UInt64 = 0, residentBytes: UInt64? = nil) {
            self.dirtyBytesPerSec = dirtyBytesPerSec
            self.storageBytes = storageBytes
            self.residentBytes = residentBytes
        }
    }

    /// The model's prediction for every node, in the graph's order, each under the options
    /// its migration runs with (its `migration.groups` entry's, or the plan's).
    public static func predictions(
        _ graph: MigrationGraph, options: MigrationOptionSet, model: DurationModel, loads: [String: Load] = [:]
    ) -> [DurationModel.Prediction] {
        // Member by member: `map` over the nodes, or a node held in a local, copied each one (its
        // whole placement) to read four members.
        graph.nodes.indices.map { i in
            let load = loads[graph.nodes[i].placement.uuid]
            let m = DurationModel.Migration(
                memoryBytes: graph.nodes[i].placement.memoryKiB.multipliedReportingOverflow(by: 1024).partialValue,
                dirtyBytesPerSec: load?.dirtyBytesPerSec, storageBytes: load?.storageBytes ?? 0,
                mode: graph.nodes[i].placement.mode, residentBytes: load?.residentBytes)
            return model.predict(m, options: options.options(forGroup: graph.nodes[i].migrationGroup))
        }
    }

    /// The model's prediction for every node, all under the same options.
    public static func predictions(
        _ graph: MigrationGraph, options: MigrationOptions, model: DurationModel, loads: [String: Load] = [:]
    ) -> [DurationModel.Prediction] {
        predictions(graph, options: MigrationOptionSet(plan: options), model: model, loads: loads)
    }

    /// The estimate of a drain from the model.
    public static func estimate(
        _ graph: MigrationGraph, options: MigrationOptionSet, model: DurationModel = DurationModel(),
        loads: [String: Load] = [:]
    ) -> Timeline {
        let p = predictions(graph, options: options, model: model, loads: loads)
        return schedule(
            graph, durationsMs: p.map(\.durationMs), outcomes: p.map(\.outcome),
            assumedBandwidth: model.assumedBandwidthBytesPerSec, setupMs: model.setupMs)
    }

    /// The estimate of idle guests with the default migration options but `bandwidth` (nil =
    /// uncapped, at `assumedBandwidth`).
    public static func estimate(
        _ graph: MigrationGraph, bandwidth: UInt64?, assumedBandwidth: UInt64 = 1 << 30
    ) -> Timeline {
        var options = MigrationOptions()
        options.bandwidthBytesPerSec = bandwidth
        var model = DurationModel()
        model.assumedBandwidthBytesPerSec = assumedBandwidth
        return estimate(graph, options: MigrationOptionSet(plan: options), model: model)
    }

    /// The estimate of a saved plan: the durations its nodes carry (`predictedDurationMs`), the
    /// model's for nodes of plan files written before they did.
    public static func estimate(_ plan: PlanFile, model: DurationModel = DurationModel()) -> Timeline {
        let p = predictions(plan.graph, options: plan.policy.migrationOptions, model: model)
        let durations = zip(plan.graph.nodes, p).map { n, p in n.predictedDurationMs ?? p.durationMs }
        return schedule(
            plan.graph, durationsMs: durations, outcomes: p.map(\.outcome),
            assumedBandwidth: model.assumedBandwidthBytesPerSec, setupMs: model.setupMs)
    }

    /// The DAG walked on a clock with the given durations (in the graph's order).
    public static func schedule(
        _ graph: MigrationGraph, durationsMs: [Double], outcomes: [DurationModel.Outcome?] = [],
        assumedBandwidth: UInt64 = 1 << 30, setupMs: Double = DurationModel.measuredSetupMs
    ) -> Timeline {
        let starts = startTimes(graph, durationsMs: durationsMs)
        var entries: [Entry] = []
        entries.reserveCapacity(graph.nodes.count)
        for (k, n) in graph.nodes.enumerated() {
            guard let s = starts[k] else { continue }
            let d = k < durationsMs.count ? durationsMs[k] : 0
            entries.append(Entry(id: n.id, startMs: s, endMs: s + d, outcome: k < outcomes.count ? outcomes[k] : nil))
        }
        return Timeline(
            entries: entries, totalMs: entries.map(\.endMs).max() ?? 0,
            assumedBandwidthBytesPerSec: assumedBandwidth, setupMs: setupMs)
    }

    /// Each node's start (graph order; nil for a node that never starts), walking the
    /// executor's scheduler with every migration ending done after its duration.
    static func startTimes(_ graph: MigrationGraph, durationsMs: [Double]) -> [Double?] {
        walk(graph, durationsMs: durationsMs, admits: nil).starts
    }

    /// What the executor starts under a maintenance window, predicted: the walk of the
    /// executor's scheduler over the predicted durations in which each start is judged by the
    /// executor's own rule (`MaintenanceWindow.admits`) and a migration it refuses frees its
    /// slot at once, its dependents left waiting, as the executor does. `closesMs`: the
    /// window's close after the run's start.
    public static func windowed(
        _ graph: MigrationGraph, durationsMs: [Double], window: MaintenanceWindow, closesMs: Double
    ) -> Windowed {
        let (starts, refused) = walk(graph, durationsMs: durationsMs) { at, d in
            window.admits(predictedMs: d, atMs: at, closesMs: closesMs)
        }
        var out = Windowed()
        for (k, n) in graph.nodes.enumerated() {
            let d = k < durationsMs.count ? durationsMs[k] : 0
            if let s = starts[k] {
                out.started.append(Entry(id: n.id, startMs: s, endMs: s + d))
            } else if let s = refused[k] {
                out.refused.append(Entry(id: n.id, startMs: s, endMs: s + d))
            } else {
                out.waiting.append(n.id)
            }
        }
        return out
    }

    /// The predicted outcome of a run under a maintenance window (`windowed`), in graph order.
    public struct Windowed: Hashable, Sendable {
        /// Migrations started, predicted to end inside the window.
        public var started: [Entry] = []
        /// Migrations not started: at `startMs` they were predicted to end at `endMs`, after the
        /// window closes.
        public var refused: [Entry] = []
        /// Node ids never started: they wait for a refused migration.
        public var waiting: [Int] = []
        /// Nothing started, refused or waiting (no window).
        public init() {}
    }

    /// The walk of `startTimes`; `admits(at, duration)` (nil: all) judges each start, and a
    /// refused step frees its slot, its dependents waiting. Starts and refusal times by rank.
    private static func walk(
        _ graph: MigrationGraph, durationsMs: [Double], admits: ((Double, Double) -> Bool)?
    ) -> (starts: [Double?], refused: [Double?]) {
        let planned = graph.nodes.indices.map { PlannedMigration(node: graph.nodes[$0], rank: $0) }
        var (scheduler, _) = SlotScheduler.make(steps: planned, limits: graph.limits)
        var running: [(end: Double, i: Int)] = [] // small: at most `total`
        var starts = [Double?](repeating: nil, count: graph.nodes.count)
        var refused = [Double?](repeating: nil, count: admits == nil ? 0 : graph.nodes.count)
        var now = 0.0
        while true {
            var freed = true // a refused step frees its slot for the next, as in the executor
            while freed {
                freed = false
                for i in scheduler.takeStartable() {
                    let rank = scheduler.steps[i].rank
                    let d = rank < durationsMs.count && durationsMs[rank].isFinite ? max(0, durationsMs[rank]) : 0
                    if let admits, !admits(now, d) {
                        refused[rank] = now
                        _ = scheduler.finish(i, .requeued)
                        freed = true
                        continue
                    }
                    starts[rank] = now
                    running.append((now + d, i))
                }
            }
            // Finish the earliest (ties by plan order) and release its slots.
            guard
                let pick = running.indices.min(by: {
                    (running[$0].end, running[$0].i) < (running[$1].end, running[$1].i)
                })
            else { break }
            let (end, i) = running.remove(at: pick)
            now = end
            _ = scheduler.finish(i, .done)
        }
        return (starts, refused)
    }
}

/// What the scheduler needs of a graph node, and its place in the plan's order. Copied out of
/// the node rather than holding it: a node carries its whole placement (a dozen reference-counted
/// members), and the scheduler copies its steps, so a 100,000-node estimate spent a sixth of
/// `evac plan` retaining and releasing placements it never reads.
private struct PlannedMigration: SchedulableStep {
    var id: Int
    var rank: Int
    var guest: String
    var sourceHost: String
    var targetHost: String
    var after: [Int]
    var groups: [String]

    init(node: MigrationGraph.Node, rank: Int) {
        id = node.id
        self.rank = rank
        guest = node.placement.guest
        sourceHost = node.placement.source
        targetHost = node.placement.target
        after = node.after
        groups = node.groups
    }
}
