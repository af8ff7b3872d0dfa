import EvacBench
import EvacCore
import Foundation

/// `evac-bench decode FILE [--reps 3]`: the snapshot read both ways in the same process, best
/// of `reps` CPU times each: JSONDecoder (what evac used before) and `Inventory.decodeSnapshot`
/// (the reader written for the schema, with the checks after it); both must give the same value.
enum DecodeBench {
    static func run(path: String, reps: Int) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        var viaFoundation: Inventory?
        var viaReader: Inventory?
        var foundation = Double.infinity
        var reader = Double.infinity
        for _ in 0..<max(1, reps) {
            foundation = min(
                foundation, Bench.cpuTime { viaFoundation = try? JSONDecoder().decode(Inventory.self, from: data) }.cpu)
            reader = min(reader, Bench.cpuTime { viaReader = try? Inventory.decodeSnapshot(data).get() }.cpu)
        }
        let same = viaFoundation != nil && viaFoundation == viaReader
        print(
            String(
                format:
                    "%@: %.1f MiB; JSONDecoder %.0f ms, evac's reader (checks included) %.0f ms: %.1fx faster; same inventory: %@",
                path, Double(data.count) / 1_048_576, foundation * 1000, reader * 1000, foundation / reader,
                same ? "yes" : "NO"))
        if !same { exit(1) }
    }
}
