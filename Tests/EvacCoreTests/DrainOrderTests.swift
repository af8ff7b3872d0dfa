import EvacBench
import Testing

@testable import EvacCore

@Suite struct DrainOrderTests {
    /// The figures of `evac-bench order`: never slower than largest-first, never below the
    /// bound, and within 5 % of it where largest-first is 20 % off (one source of many small).
    @Test(arguments: [1, 2, 3] as [UInt64])
    func shortestDrainIsNeverSlowerAndNearTheBound(seed: UInt64) {
        for s in DrainFleet.shapes(seed: seed) {
            let durations = s.predictions.map(\.durationMs)
            let bound = Timeline.lowerBound(s.graph, durationsMs: durations)
            let largest = Timeline.schedule(s.graph, durationsMs: durations).totalMs
            let (g, p, _) = DrainOrder.apply(s.graph, predictions: s.predictions, order: .shortestDrain)
            let shortest = Timeline.schedule(g, durationsMs: p.map(\.durationMs)).totalMs
            #expect(shortest <= largest, "\(s.name)")
            #expect(shortest >= bound - 0.001, "\(s.name)")
            #expect(shortest <= 1.05 * bound, "\(s.name): \(shortest / bound) of the bound")
            if s.name.hasPrefix("one source") {
                #expect(largest > 1.15 * bound, "the shape shows what largest-first gets wrong")
            }
        }
    }

    @Test func reorderingKeepsEveryGuestItsEdgesAndItsPrediction() throws {
        let s = try #require(DrainFleet.shapes(seed: 7).first { $0.name.hasPrefix("after rules") })
        #expect(s.graph.nodes.contains { !$0.after.isEmpty })
        let (g, p, _) = DrainOrder.apply(s.graph, predictions: s.predictions, order: .shortestDrain)
        #expect(g.nodes.map(\.id) == Array(1...g.nodes.count), "ids are the new order")
        let before = Dictionary(uniqueKeysWithValues: s.graph.nodes.map { ($0.id, $0) })
        let after = Dictionary(uniqueKeysWithValues: g.nodes.map { ($0.id, $0) })
        func waits(_ n: MigrationGraph.Node, _ byID: [Int: MigrationGraph.Node]) -> Set<String> {
            Set(n.after.compactMap { byID[$0]?.guest })
        }
        let old = Dictionary(
            uniqueKeysWithValues: s.graph.nodes.enumerated().map { ($1.guest, ($1, s.predictions[$0])) })
        #expect(Set(g.nodes.map(\.guest)) == Set(old.keys))
        for (k, n) in g.nodes.enumerated() {
            let (o, op) = try #require(old[n.guest])
            #expect(waits(n, after) == waits(o, before), "\(n.guest) waits for the same guests")
            #expect(p[k] == op, "\(n.guest) keeps its prediction")
        }
        // And the estimate of the new order starts nobody before what it waits for ends.
        let t = Timeline.schedule(g, durationsMs: p.map(\.durationMs))
        let end = Dictionary(uniqueKeysWithValues: t.entries.map { ($0.id, $0.endMs) })
        for e in t.entries {
            for a in after[e.id]?.after ?? [] { #expect(e.startMs >= (end[a] ?? .infinity) - 0.001) }
        }
    }

    /// The estimate's graph carries each node's predicted start and duration, equal to its
    /// timeline's (the plan file takes them from there without copying the graph again).
    @Test func theEstimatesGraphCarriesItsTimeline() throws {
        let s = try #require(DrainFleet.shapes(seed: 3).first { $0.name.hasPrefix("after rules") })
        let d = DrainEstimate(s.graph, options: MigrationOptions(), order: .shortestDrain)
        let byID = Dictionary(uniqueKeysWithValues: d.timeline.entries.map { ($0.id, $0) })
        #expect(d.graph.nodes.count == s.graph.nodes.count)
        for n in d.graph.nodes {
            let e = try #require(byID[n.id], "node \(n.id) starts in the estimate")
            #expect(n.predictedStartMs == e.startMs)
            #expect(n.predictedDurationMs == e.durationMs)
        }
    }

    @Test func otherOrdersAreLeftAsPlaced() throws {
        let s = try #require(DrainFleet.shapes(seed: 1).first { $0.name.hasPrefix("one source") })
        for order in [PlacementPolicy.Order.largestFirst, .smallestFirst, .asListed] {
            #expect(DrainOrder.apply(s.graph, predictions: s.predictions, order: order).graph == s.graph)
        }
    }

    /// No order beats the bound: random permutations of every shape.
    @Test func theLowerBoundHoldsForAnyOrder() {
        var rng = SplitMix64(seed: 11)
        for s in DrainFleet.shapes(seed: 5) {
            let durations = s.predictions.map(\.durationMs)
            let bound = Timeline.lowerBound(s.graph, durationsMs: durations)
            for _ in 0..<5 {
                var order = Array(s.graph.nodes.indices)
                for i in order.indices.reversed() where i > 0 { order.swapAt(i, rng.int(0...i)) }
                let g = DrainOrder.renumbered(s.graph, order: order)
                #expect(Timeline.schedule(g, durationsMs: order.map { durations[$0] }).totalMs >= bound - 0.001)
            }
        }
        // A chain is bounded by its length, not by the limits.
        let chain = MigrationGraph(
            nodes: (1...3).map {
                MigrationGraph.Node(
                    id: $0,
                    placement: Placement(
                        guest: "g\($0)", uuid: "u\($0)", source: "s\($0)", target: "t\($0)", memoryKiB: 1,
                        vcpus: 1, mode: .live),
                    after: $0 > 1 ? [$0 - 1] : [])
            }, limits: .init(total: 8, perSource: 8, perTarget: 8))
        #expect(Timeline.lowerBound(chain, durationsMs: [1, 2, 3]) == 6)
    }
}
