import EvacBench
import Testing

@testable import EvacCore

/// When not every guest fits: placement maximizes guests placed by priority, then guests, then
/// memory, and is never below the plain greedy rules.
struct PlacementObjectiveTests {
    /// One 10 GiB target; guests of 10, 3, 3 and 3 GiB: the most guests is the three 3s, though
    /// largest-first places the 10.
    @Test func mostGuestsBeforeMemory() {
        let spec = Fx.plan(sources: ["s"], targets: ["a"])
        let hosts = [
            Fx.host(
                "s", gib: 64,
                guests: [
                    Fx.vm("big", gib: 10), Fx.vm("c1", gib: 3), Fx.vm("c2", gib: 3),
                    Fx.vm("c3", gib: 3),
                ]), Fx.host("a", gib: 10),
        ]
        #expect(Fx.place(spec, hosts, strategy: .greedyLargestFirst).placements.map(\.guest) == ["big"])
        let r = Fx.place(spec, hosts)
        #expect(Set(r.placements.map(\.guest)) == ["c1", "c2", "c3"])
        #expect(r.unplaceable.map(\.guest) == ["big"])
        #expect(Fx.rejection(r, "big", "a")?.filter == .memory)
        #expect(r.notes.contains { $0.hasPrefix("not every guest fits") })
    }

    /// With `big` at priority 10 it is placed, though that places fewer guests.
    @Test func priorityFirst() {
        var spec = Fx.plan(sources: ["s"], targets: ["a"])
        spec.placement.priority = [PriorityRule(guests: [Located(Glob("big"))], priority: 10)]
        let hosts = [
            Fx.host(
                "s", gib: 64,
                guests: [
                    Fx.vm("big", gib: 10), Fx.vm("c1", gib: 3), Fx.vm("c2", gib: 3),
                    Fx.vm("c3", gib: 3),
                ]), Fx.host("a", gib: 10),
        ]
        let r = Fx.place(spec, hosts)
        #expect(r.placements.map(\.guest) == ["big"])
        #expect(Set(r.unplaceable.map(\.guest)) == ["c1", "c2", "c3"])
    }

    /// Equal counts: more memory wins (two targets of 8; guests 8, 5, 4, 4: {8} + {4, 4} places
    /// three guests and 16 GiB; {5} + {4,...} also three but less memory).
    @Test func thenMemory() {
        let spec = Fx.plan(sources: ["s"], targets: ["a", "b"])
        let hosts = [
            Fx.host(
                "s", gib: 64,
                guests: [
                    Fx.vm("g8", gib: 8), Fx.vm("g5", gib: 5), Fx.vm("g4a", gib: 4),
                    Fx.vm("g4b", gib: 4),
                ]), Fx.host("a", gib: 8), Fx.host("b", gib: 8),
        ]
        let r = Fx.place(spec, hosts)
        #expect(r.placements.count == 3)
        #expect(r.placements.reduce(0) { $0 + $1.memoryKiB } == 16 * Fx.gib)
        #expect(r.unplaceable.map(\.guest) == ["g5"])
    }

    /// On generated fleets that cannot be drained: never below any plain rule by the objective
    /// (guests, then memory), and the same result twice.
    @Test func neverBelowThePlainRules() {
        let rules: [PlacerOptions.Strategy] = [.greedyAsListed, .greedyLargestFirst, .greedySmallestFirst]
        // Three fleets: each costs seconds in a debug build (the search runs to its work bound);
        // the benchmark (scripts/bench-objective) covers 120.
        for seed in UInt64(1)...3 {
            let (spec, inv, _, _, _) = FleetGenerator.overfull(seed: seed, sources: 4, targets: 8)
            let r = Placer.place(spec: spec, inventory: inv)
            #expect(r == Placer.place(spec: spec, inventory: inv))
            for rule in rules {
                for choose in PlacementPolicy.Choose.allCases {
                    var s = spec
                    s.placement.choose = choose
                    let plain = Placer.place(spec: s, inventory: inv, options: PlacerOptions(strategy: rule))
                    // Lexicographic: more guests, or as many and at least as much memory.
                    #expect(
                        (r.placements.count, memory(r)) >= (plain.placements.count, memory(plain)),
                        "seed \(seed) \(rule) \(choose)")
                }
            }
        }
    }

    func memory(_ r: PlacementResult) -> UInt64 { r.placements.reduce(0) { $0 + $1.memoryKiB } }
}
