/// The migration order that makes the drain short (`placement.order: shortest-drain`), within
/// the plan's limits and `after` rules: those decide what may run together and what waits; the
/// order only decides, among migrations that may start, which starts first.
///
/// Largest-first starts the big guests of every source at once and leaves a source that holds
/// many small guests for the end, where its per-source limit makes it the tail of the drain.
/// So: the source with the most predicted work left goes first, and within it the longest
/// predicted migration (LPT, longest processing time first, across sources). The order is
/// computed once, statically, and the executor's `SlotScheduler` walks it like any plan's
/// order; the estimate of both orders is compared and the shorter kept, so the new order is
/// never predicted slower than largest-first.
public enum DrainOrder {
    /// Graph indices in the shortest-drain order: repeatedly, the source with the most
    /// predicted work not yet ordered gives its longest migration not yet ordered (ties: the
    /// graph's order).
    public static func byRemainingWork(_ graph: MigrationGraph, durationsMs: [Double]) -> [Int] {
        let n = graph.nodes.count
        func d(_ i: Int) -> Double { i < durationsMs.count && durationsMs[i].isFinite ? max(0, durationsMs[i]) : 0 }
        var sourceIndex: [String: Int] = [:]
        var queues: [[Int]] = []
        for i in 0..<n {
            let s = graph.nodes[i].source
            let k = sourceIndex[s] ?? queues.count
            if k == queues.count {
                sourceIndex[s] = k
                queues.append([])
            }
            queues[k].append(i)
        }
        // Within a source: longest first (stable: the graph's order breaks ties).
        for k in queues.indices { queues[k].sort { (d($1), $0) < (d($0), $1) } }
        var remaining = queues.map { $0.reduce(0) { $0 + d($1) } }
        var next = [Int](repeating: 0, count: queues.count)
        // A max-heap of sources by remaining work (ties: the source seen first).
        var heap = Heap<(Double, Int)> { a, b in a.0 != b.0 ? a.0 > b.0 : a.1 < b.1 }
        for k in queues.indices { heap.push((remaining[k], k)) }
        var order: [Int] = []
        order.reserveCapacity(n)
        while let (work, k) = heap.pop() {
            guard work == remaining[k], next[k] < queues[k].count else { continue } // stale entry
            let i = queues[k][next[k]]
            next[k] += 1
            order.append(i)
            remaining[k] -= d(i)
            if next[k] < queues[k].count { heap.push((remaining[k], k)) }
        }
        return order
    }

    /// The graph with its nodes in `order` (graph indices) and their ids renumbered 1…n to
    /// match (the id is the plan's order), `after` edges mapped to the new ids.
    public static func renumbered(_ graph: MigrationGraph, order: [Int]) -> MigrationGraph {
        var newID: [Int: Int] = [:]
        for (k, i) in order.enumerated() { newID[graph.nodes[i].id] = k + 1 }
        var g = graph
        g.nodes = order.enumerated().map { k, i in
            var node = graph.nodes[i]
            node.id = k + 1
            node.after = node.after.compactMap { newID[$0] }.sorted()
            return node
        }
        return g
    }

    /// The plan's graph in the order that `order` asks for, with each node's prediction (in
    /// the returned graph's order) and the estimate: for `shortest-drain`, the by-remaining-work
    /// order when its estimate is shorter than the graph's own (largest-first) order's;
    /// otherwise unchanged.
    public static func apply(
        _ graph: MigrationGraph, predictions: [DurationModel.Prediction], order: PlacementPolicy.Order,
        model: DurationModel = DurationModel()
    ) -> (graph: MigrationGraph, predictions: [DurationModel.Prediction], timeline: Timeline) {
        func estimate(_ g: MigrationGraph, _ p: [DurationModel.Prediction]) -> Timeline {
            Timeline.schedule(
                g, durationsMs: p.map(\.durationMs), outcomes: p.map(\.outcome),
                assumedBandwidth: model.assumedBandwidthBytesPerSec, setupMs: model.setupMs)
        }
        let before = estimate(graph, predictions)
        guard order == .shortestDrain, graph.nodes.count > 1, predictions.count == graph.nodes.count else {
            return (graph, predictions, before)
        }
        let candidate = byRemainingWork(graph, durationsMs: predictions.map(\.durationMs))
        let reordered = renumbered(graph, order: candidate)
        let reorderedPredictions = candidate.map { predictions[$0] }
        let after = estimate(reordered, reorderedPredictions)
        guard after.totalMs < before.totalMs else { return (graph, predictions, before) }
        return (reordered, reorderedPredictions, after)
    }
}

/// The graph the plan file carries and its estimate: the model's predictions, the plan's order
/// (`DrainOrder.apply`), the scheduler's walk. What `evac plan` does after placement.
public struct DrainEstimate: Sendable {
    /// The graph in the plan's order, with every node's predicted start and duration.
    public var graph: MigrationGraph
    /// In the graph's order.
    public var predictions: [DurationModel.Prediction]
    /// The scheduler's walk of the ordered graph.
    public var timeline: Timeline

    /// Predicts every migration of `unordered`, puts them in the plan's `order`, and walks the
    /// result under its limits (`loads` by guest UUID: dirty rates and copied disks;
    /// `options`: each node's options by its `migrationGroup`).
    public init(
        _ unordered: MigrationGraph, options: MigrationOptionSet, order: PlacementPolicy.Order,
        model: DurationModel = DurationModel(), loads: [String: Timeline.Load] = [:]
    ) {
        let predicted = Timeline.predictions(unordered, options: options, model: model, loads: loads)
        (graph, predictions, timeline) = DrainOrder.apply(unordered, predictions: predicted, order: order, model: model)
        // The timeline's entries are in the graph's order, one per node that starts.
        var k = 0
        for i in graph.nodes.indices {
            guard k < timeline.entries.count, timeline.entries[k].id == graph.nodes[i].id else {
                graph.nodes[i].predictedStartMs = nil
                graph.nodes[i].predictedDurationMs = nil
                continue
            }
            graph.nodes[i].predictedStartMs = timeline.entries[k].startMs
            graph.nodes[i].predictedDurationMs = timeline.entries[k].durationMs
            k += 1
        }
    }

    /// Every migration under the same options.
    public init(
        _ unordered: MigrationGraph, options: MigrationOptions, order: PlacementPolicy.Order,
        model: DurationModel = DurationModel(), loads: [String: Timeline.Load] = [:]
    ) {
        self.init(unordered, options: MigrationOptionSet(plan: options), order: order, model: model, loads: loads)
    }
}

/// A binary heap; `above(a, b)` is true when a comes out before b. (swift-collections' Heap
/// would be EvacCore's first package dependency, for these 30 lines.)
struct Heap<Element> {
    private var items: [Element] = []
    private let above: (Element, Element) -> Bool
    init(_ above: @escaping (Element, Element) -> Bool) { self.above = above }

    mutating func push(_ e: Element) {
        items.append(e)
        var c = items.count - 1
        while c > 0 {
            let p = (c - 1) / 2
            guard above(items[c], items[p]) else { break }
            items.swapAt(c, p)
            c = p
        }
    }

    mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var p = 0
        while true {
            let l = 2 * p + 1
            let r = l + 1
            var m = p
            if l < items.count && above(items[l], items[m]) { m = l }
            if r < items.count && above(items[r], items[m]) { m = r }
            if m == p { break }
            items.swapAt(p, m)
            p = m
        }
        return top
    }
}

extension Timeline {
    /// A bound no schedule of `graph` under its limits and `after` rules can beat, for the
    /// given durations (graph order): the largest of all the work over the total limit, each
    /// source's and each target's work over its per-host limit, each anti-affinity group's
    /// over its limit, and the longest chain of `after` edges.
    public static func lowerBound(_ graph: MigrationGraph, durationsMs: [Double]) -> Double {
        func d(_ i: Int) -> Double { i < durationsMs.count && durationsMs[i].isFinite ? max(0, durationsMs[i]) : 0 }
        let l = graph.limits
        var bySource: [String: Double] = [:]
        var byTarget: [String: Double] = [:]
        var byGroup: [String: Double] = [:]
        var total = 0.0
        for (i, n) in graph.nodes.enumerated() {
            total += d(i)
            bySource[n.source, default: 0] += d(i)
            byTarget[n.target, default: 0] += d(i)
            for g in n.groups { byGroup[g, default: 0] += d(i) }
        }
        var bound = total / Double(max(1, l.total))
        bound = max(bound, (bySource.values.max() ?? 0) / Double(max(1, l.perSource)))
        bound = max(bound, (byTarget.values.max() ?? 0) / Double(max(1, l.perTarget)))
        let groupLimit = Dictionary(l.groups.map { ($0.name, max(1, $0.maxInFlight)) }, uniquingKeysWith: min)
        for (g, w) in byGroup { bound = max(bound, w / Double(groupLimit[g] ?? Int.max)) }
        // Longest chain: finish times in an order where every node comes after what it waits for.
        let index = Dictionary(graph.nodes.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        var finish = [Double?](repeating: nil, count: graph.nodes.count)
        for start in graph.nodes.indices where finish[start] == nil {
            var stack = [start]
            while let v = stack.last {
                let waits = graph.nodes[v].after.compactMap { index[$0] }.filter { $0 != v }
                if let pending = waits.first(where: { finish[$0] == nil && !stack.contains($0) }) {
                    stack.append(pending)
                    continue
                }
                finish[v] = (waits.compactMap { finish[$0] }.max() ?? 0) + d(v)
                stack.removeLast()
            }
        }
        return max(bound, finish.compactMap { $0 }.max() ?? 0)
    }
}
