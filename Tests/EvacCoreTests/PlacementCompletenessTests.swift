import EvacBench
import XCTest

@testable import EvacCore

enum EvacBenchFleets {
    static func scale() -> (PlanSpec, Inventory) { FleetGenerator.scale(guests: 600, hosts: 60, sources: 12, seed: 7) }
}

/// Completeness: evac finds a complete placement where greedy placement does not.
final class PlacementCompletenessTests: XCTestCase {
    /// Targets of 12 and 8 GiB, guests of 6, 6, 4 and 4 GiB: only {6, 6} + {4, 4} fits.
    /// Most-free greedy puts the second 6 on the 8 GiB target and strands a 4.
    func testHandMadeTightCase() {
        let spec = Fx.plan(sources: ["s"], targets: ["a", "b"])
        let hosts = [
            Fx.host(
                "s", gib: 64,
                guests: [Fx.vm("g1", gib: 6), Fx.vm("g2", gib: 6), Fx.vm("g3", gib: 4), Fx.vm("g4", gib: 4)]),
            Fx.host("a", gib: 12), Fx.host("b", gib: 8),
        ]
        XCTAssertEqual(Fx.place(spec, hosts, strategy: .greedyAsListed).unplaceable.count, 1)
        XCTAssertEqual(Fx.place(spec, hosts, strategy: .greedyLargestFirst).unplaceable.count, 1)
        let r = Fx.place(spec, hosts)
        XCTAssertEqual(r.unplaceable, [])
        XCTAssertEqual(
            Dictionary(uniqueKeysWithValues: r.placements.map { ($0.guest, $0.target) }),
            ["g1": "a", "g2": "a", "g3": "b", "g4": "b"])
        // Greedy sent g1, g3 to a and g2 to b; repair moved g3 for g4 and g2 for g3.
        XCTAssertEqual(
            r.placements.map { $0.offMostFree ?? "-" },
            [
                "-", "most-free b needed for g3 (placed by repair)", "most-free a needed for g4 (placed by repair)",
                "-",
            ])
        XCTAssertEqual(r.notes, ["repair moved 2 guests off their most-free target"])
    }

    /// ~200 seeded tight fleets (a complete placement exists by construction).
    func testTightFleetsArePlacedCompletely() {
        var complete = 0
        var greedyComplete = 0
        let fleets = 200
        for seed in 0..<UInt64(fleets) {
            let (spec, inv) = FleetGenerator.tight(seed: 9_000 + seed)
            let r = Placer.place(spec: spec, inventory: inv)
            if r.unplaceable.isEmpty { complete += 1 }
            if Placer.place(spec: spec, inventory: inv, options: PlacerOptions(strategy: .greedyAsListed)).unplaceable
                .isEmpty
            {
                greedyComplete += 1
            }
            // Nothing is lost or doubled, and no target is over capacity.
            XCTAssertEqual(
                r.placements.count + r.unplaceable.count,
                inv.hosts.filter { $0.name.hasPrefix("src") }.flatMap(\.guests).count)
            XCTAssertTrue(r.targets.allSatisfy { $0.headroomAfterKiB >= 0 })
        }
        XCTAssertGreaterThanOrEqual(Double(complete) / Double(fleets), 0.99, "evac complete on \(complete)/\(fleets)")
        XCTAssertLessThan(greedyComplete, complete, "the fleets should be tight enough to defeat greedy")
    }
}
