import EvacBench
import EvacCore
import Foundation

/// evac-bench placement [--sizes 1000,10000,100000] [--seed N]
/// evac-bench completeness [--fleets 1000] [--seed 1]
/// evac-bench order [--seeds 1,2,3]   (drain makespan by order against the duration model's lower bound)
/// evac-bench decode SNAPSHOT [--reps 3]   (JSONDecoder vs evac's snapshot reader, same run)
/// evac-bench objective [--fleets 60] [--seed 1] [--out FILE]   (undrainable fleets, for scripts/bench-objective)
/// evac-bench html [--sizes 1000,10000,100000] [--dir DIR]   (time to render the plan page, its size)
/// evac-bench export [--size 100000] [--dir DIR] [--seed 42]   (the scale fleet as a YAML plan + snapshot)
let args = Array(CommandLine.arguments.dropFirst())

func option(_ name: String) -> String? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}

switch args.first {
case "placement":
    let sizes = (option("--sizes") ?? "1000,10000,100000").split(separator: ",").compactMap { Int($0) }
    do {
        try Bench.placement(sizes: sizes, seed: UInt64(option("--seed") ?? "42") ?? 42)
    } catch {
        FileHandle.standardError.write(Data("evac-bench placement: \(error)\n".utf8))
        exit(1)
    }
case "export":
    do {
        try Export.run(
            size: Int(option("--size") ?? "100000") ?? 100_000, dir: option("--dir") ?? "/tmp/evac-bench-export",
            seed: UInt64(option("--seed") ?? "42") ?? 42)
    } catch {
        FileHandle.standardError.write(Data("evac-bench export: \(error)\n".utf8))
        exit(1)
    }
case "html":
    let sizes = (option("--sizes") ?? "1000,10000,100000").split(separator: ",").compactMap { Int($0) }
    Export.html(sizes: sizes, seed: UInt64(option("--seed") ?? "42") ?? 42, dir: option("--dir"))
case "order":
    let seeds = (option("--seeds") ?? "1,2,3").split(separator: ",").compactMap { UInt64($0) }
    Bench.order(seeds: seeds)
case "objective":
    do {
        try ObjectiveBench.run(
            fleets: Int(option("--fleets") ?? "60") ?? 60, seed: UInt64(option("--seed") ?? "1") ?? 1,
            out: option("--out") ?? "/tmp/evac-objective.jsonl")
    } catch {
        FileHandle.standardError.write(Data("evac-bench objective: \(error)\n".utf8))
        exit(1)
    }
case "decode":
    do {
        try DecodeBench.run(
            path: args.count > 1 ? args[1] : "/tmp/evac-bench-export/scale-100000.inventory.json",
            reps: Int(option("--reps") ?? "3") ?? 3)
    } catch {
        FileHandle.standardError.write(Data("evac-bench decode: \(error)\n".utf8))
        exit(1)
    }
case "completeness":
    Bench.completeness(fleets: Int(option("--fleets") ?? "1000") ?? 1000, seed: UInt64(option("--seed") ?? "1") ?? 1)
default:
    FileHandle.standardError.write(
        Data(
            "usage: evac-bench placement [--sizes 1000,10000,100000] [--seed N]\n       evac-bench completeness [--fleets 1000] [--seed 1]\n"
                .utf8))
    exit(2)
}
