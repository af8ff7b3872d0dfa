import EvacBench
import EvacCore
import Foundation

/// `evac-bench objective --fleets N --out FILE`: fleets that cannot be drained (4 sources × 8
/// targets and 20 × 40), placed by evac and by each plain greedy rule; one JSON line per fleet
/// with the fleet itself (guest sizes, compatible targets, target capacities) for an exact
/// solver (`scripts/bench-objective`) and what each strategy placed (guests, KiB).
enum ObjectiveBench {
    static let shapes: [(sources: Int, targets: Int)] = [(4, 8), (20, 40)]
    static let rules: [(PlacerOptions.Strategy, PlacementPolicy.Choose)] = [
        (.greedyAsListed, .mostFreeMemory), (.greedyLargestFirst, .mostFreeMemory),
        (.greedySmallestFirst, .mostFreeMemory),
        (.greedyAsListed, .leastFreeMemory), (.greedyLargestFirst, .leastFreeMemory),
        (.greedySmallestFirst, .leastFreeMemory),
    ]

    static func run(fleets: Int, seed: UInt64, out: String) throws {
        var lines = ""
        for shape in shapes {
            var evacTime = 0.0
            for i in 0..<fleets {
                let fleetSeed = seed &* 1_000_003 &+ UInt64(i) &+ UInt64(shape.targets) << 32
                let f = FleetGenerator.overfull(seed: fleetSeed, sources: shape.sources, targets: shape.targets)
                var results: [String: [UInt64]] = [:]
                let (evac, evacWall) = Bench.timed { Placer.place(spec: f.spec, inventory: f.inventory) }
                evacTime += evacWall
                results["evac"] = figures(evac)
                for (rule, choose) in rules {
                    var spec = f.spec
                    spec.placement.choose = choose
                    let r = Placer.place(spec: spec, inventory: f.inventory, options: PlacerOptions(strategy: rule))
                    results["\(rule.rawValue)/\(choose.rawValue)"] = figures(r)
                }
                let row: [String: Any] = [
                    "shape": "\(shape.sources)x\(shape.targets)", "seed": fleetSeed,
                    "memKiB": f.memKiB, "compatible": f.compatible, "capacityKiB": f.capacityKiB,
                    "results": results,
                ]
                let data = try JSONSerialization.data(withJSONObject: row, options: [.sortedKeys])
                lines += String(decoding: data, as: UTF8.self) + "\n"
            }
            print(
                "\(shape.sources)x\(shape.targets): \(fleets) fleets, evac placement \(Bench.ms(evacTime / Double(fleets))) a fleet"
            )
        }
        try lines.write(toFile: out, atomically: true, encoding: .utf8)
        print("wrote \(out)")
    }

    static func figures(_ r: PlacementResult) -> [UInt64] {
        [UInt64(r.placements.count), r.placements.reduce(0) { $0 + $1.memoryKiB }]
    }
}
