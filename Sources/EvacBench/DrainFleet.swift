import EvacCore

/// Fleets of migrations for the order benchmark and its tests: graphs as placement leaves them
/// (largest-first), with the duration model's predictions, in several shapes.
public enum DrainFleet {
    public struct Shape: Sendable {
        public var name: String
        public var graph: MigrationGraph
        public var predictions: [DurationModel.Prediction]
    }

    /// The shapes, each from `seed`.
    public static func shapes(seed: UInt64) -> [Shape] {
        [
            make(
                "balanced: 4 sources x 16 guests, 1-16 GiB", seed: seed, sources: [(16, 1...16)], copies: 4, targets: 4),
            make(
                "one source with 60 small guests (0.5-2 GiB), 3 with 8 large (8-32 GiB)", seed: seed,
                sources: [(60, 0...2), (8, 8...32), (8, 8...32), (8, 8...32)], copies: 1, targets: 4),
            make(
                "two sources of many small guests, two of few large", seed: seed,
                sources: [(40, 0...1), (40, 0...2), (6, 16...64), (6, 16...64)], copies: 1, targets: 6),
            make(
                "busy guests: balanced, a third dirtying 20-400 MiB/s", seed: seed, sources: [(16, 1...16)], copies: 4,
                targets: 4, dirty: true),
            make(
                "after rules: balanced, a tenth wait for an earlier guest", seed: seed, sources: [(16, 1...16)],
                copies: 4, targets: 4, after: true),
            make(
                "wide: 50 sources x 20 guests, 1-32 GiB, 50 targets", seed: seed, sources: [(20, 1...32)], copies: 50,
                targets: 50),
        ]
    }

    /// Sources of (guests, GiB range; 0 = 512 MiB), repeated `copies` times.
    static func make(
        _ name: String, seed: UInt64, sources: [(Int, ClosedRange<Int>)], copies: Int, targets: Int,
        dirty: Bool = false, after: Bool = false
    ) -> Shape {
        var rng = SplitMix64(seed: seed &+ UInt64(name.utf8.count))
        var rows: [(mem: UInt64, source: String, target: String, dirty: UInt64?)] = []
        var k = 0
        for c in 0..<copies {
            for (s, spec) in sources.enumerated() {
                for _ in 0..<spec.0 {
                    let gib = rng.int(spec.1)
                    let mem: UInt64 = gib == 0 ? 512 * 1024 : UInt64(gib) * FleetGenerator.gib
                    let rate: UInt64? = dirty && rng.chance(1.0 / 3) ? UInt64(rng.int(20...400)) << 20 : nil
                    rows.append((mem, "src-\(c * sources.count + s)", "dst-\(k % targets)", rate))
                    k += 1
                }
            }
        }
        rows.sort { $0.mem > $1.mem } // what placement's largest-first leaves
        var nodes: [MigrationGraph.Node] = rows.enumerated().map { i, r in
            MigrationGraph.Node(
                id: i + 1,
                placement: Placement(
                    guest: "g\(i + 1)", uuid: "u\(i + 1)", source: r.source, target: r.target, memoryKiB: r.mem,
                    vcpus: 2, mode: .live))
        }
        if after {
            for i in nodes.indices where i > 0 && rng.chance(0.1) { nodes[i].after = [rng.int(1...i)] }
        }
        let graph = MigrationGraph(
            nodes: nodes, limits: .init(total: 4 * max(1, copies / 4), perSource: 2, perTarget: 2, groups: []))
        var options = MigrationOptions()
        options.bandwidthBytesPerSec = 1 << 30
        options.autoConverge = .init(initial: 20, increment: 10)
        let loads = Dictionary(
            uniqueKeysWithValues: rows.enumerated().map { ("u\($0 + 1)", Timeline.Load(dirtyBytesPerSec: $1.dirty)) })
        let predictions = Timeline.predictions(graph, options: options, model: DurationModel(), loads: loads)
        return Shape(name: name, graph: graph, predictions: predictions)
    }
}
