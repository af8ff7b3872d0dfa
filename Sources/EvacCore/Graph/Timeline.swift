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
    public static func estimate(
        _ graph: MigrationGraph, bandwidth: UInt64?, assumedBandwidth: UInt64 = 1 << 30,
        setupMs: Double = 2000
    ) -> Timeline {
        let bw = Double(bandwidth ?? assumedBandwidth)
        let n = graph.nodes.count
        // A plan file is input: duplicate ids or group names keep their first entry, never trap.
        let index = Dictionary(graph.nodes.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        var waiting = graph.nodes.map { $0.after.count }
        var dependents = [[Int]](repeating: [], count: n)
        for (i, node) in graph.nodes.enumerated() {
            for a in node.after { if let j = index[a] { dependents[j].append(i) } }
        }
        let groupLimit = Dictionary(
            graph.limits.groups.map { ($0.name, $0.maxInFlight) }, uniquingKeysWith: { first, _ in first })

        var ready = (0..<n).filter { waiting[$0] == 0 } // kept sorted by index (= plan order)
        var started = [Bool](repeating: false, count: n)
        var running: [(end: Double, i: Int)] = [] // small: at most `total`
        var perSource: [String: Int] = [:]
        var perTarget: [String: Int] = [:]
        var perGroup: [String: Int] = [:]
        var entries = [Entry?](repeating: nil, count: n)
        var now = 0.0
        var inFlight = 0

        func duration(_ node: MigrationGraph.Node) -> Double {
            node.mode == .offline ? setupMs / 2 : setupMs + Double(node.memoryKiB) * 1024 / bw * 1000
        }
        var head = 0 // ready[..<head] have all started
        while true {
            while head < ready.count, started[ready[head]] { head += 1 }
            var k = head
            while k < ready.count, inFlight < graph.limits.total {
                let i = ready[k]
                k += 1
                if started[i] { continue }
                let node = graph.nodes[i]
                let groupsFree = node.groups.allSatisfy { perGroup[$0, default: 0] < (groupLimit[$0] ?? Int.max) }
                guard perSource[node.source, default: 0] < graph.limits.perSource,
                    perTarget[node.target, default: 0] < graph.limits.perTarget, groupsFree
                else { continue }
                started[i] = true
                inFlight += 1
                perSource[node.source, default: 0] += 1
                perTarget[node.target, default: 0] += 1
                for g in node.groups { perGroup[g, default: 0] += 1 }
                let end = now + duration(node)
                entries[i] = Entry(id: node.id, startMs: now, endMs: end)
                running.append((end, i))
            }
            guard !running.isEmpty else { break }
            // Finish the earliest (ties by plan order) and release its slots.
            let pick = running.indices.min { (running[$0].end, running[$0].i) < (running[$1].end, running[$1].i) }!
            let (end, i) = running.remove(at: pick)
            now = end
            inFlight -= 1
            let node = graph.nodes[i]
            perSource[node.source]! -= 1
            perTarget[node.target]! -= 1
            for g in node.groups { perGroup[g]! -= 1 }
            var newlyReady: [Int] = []
            for d in dependents[i] {
                waiting[d] -= 1
                if waiting[d] == 0 { newlyReady.append(d) }
            }
            for d in newlyReady {
                // Keep plan order among ready migrations: insert after the started prefix.
                var lo = head
                var hi = ready.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if ready[mid] < d { lo = mid + 1 } else { hi = mid }
                }
                ready.insert(d, at: lo)
            }
        }
        let done = entries.compactMap { $0 }
        return Timeline(
            entries: done, totalMs: done.map(\.endMs).max() ?? 0,
            assumedBandwidthBytesPerSec: UInt64(bandwidth ?? assumedBandwidth), setupMs: setupMs)
    }
}
