/// An estimate of the drain's duration: the DAG walked under its limits with each migration
/// taking `setup + memory / bandwidth`. A lower bound for live migrations of busy guests
/// (dirty pages are sent again); offline migrations move only a definition.
public struct Timeline: Codable, Hashable, Sendable {
    public struct Entry: Codable, Hashable, Sendable {
        public var id: Int
        public var startMs: Double
        public var endMs: Double
    }
    public var entries: [Entry]
    public var totalMs: Double
    public var assumedBandwidthBytesPerSec: UInt64
    public var setupMs: Double

    /// - Parameter assumedBandwidth: used when the plan sets no bandwidth cap.
    public static func estimate(_ graph: MigrationGraph, bandwidth: UInt64?, assumedBandwidth: UInt64 = 1 << 30,
                                setupMs: Double = 2000) -> Timeline {
        let bw = Double(bandwidth ?? assumedBandwidth)
        func duration(_ node: MigrationGraph.Node) -> Double {
            node.mode == .offline ? setupMs / 2 : setupMs + Double(node.memoryKiB) * 1024 / bw * 1000
        }
        // The executor's own slot rules, walked on a clock instead of on libvirt.
        let planned = graph.nodes.enumerated().map { PlannedMigration(node: $1, rank: $0) }
        var (scheduler, _) = SlotScheduler.make(steps: planned, limits: graph.limits)
        var running: [(end: Double, i: Int)] = []  // small: at most `total`
        var entries = [Entry?](repeating: nil, count: graph.nodes.count)  // in the graph's order
        var now = 0.0
        while true {
            for i in scheduler.takeStartable() {
                let end = now + duration(scheduler.steps[i].node)
                entries[scheduler.steps[i].rank] = Entry(id: scheduler.steps[i].id, startMs: now, endMs: end)
                running.append((end, i))
            }
            // Finish the earliest (ties by plan order) and release its slots.
            guard let pick = running.indices.min(by: { (running[$0].end, running[$0].i) < (running[$1].end, running[$1].i) })
            else { break }
            let (end, i) = running.remove(at: pick)
            now = end
            _ = scheduler.finish(i, .done)
        }
        let done = entries.compactMap { $0 }
        return Timeline(entries: done, totalMs: done.map(\.endMs).max() ?? 0,
                        assumedBandwidthBytesPerSec: UInt64(bandwidth ?? assumedBandwidth), setupMs: setupMs)
    }
}

/// A graph node with its place in the plan's order, for the scheduler.
private struct PlannedMigration: SchedulableStep {
    var node: MigrationGraph.Node
    var rank: Int
    var id: Int { node.id }
    var guest: String { node.guest }
    var sourceHost: String { node.source }
    var targetHost: String { node.target }
    var after: [Int] { node.after }
    var groups: [String] { node.groups }
}
