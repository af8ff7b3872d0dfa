import EvacBench
import EvacCore
import EvacHTML
import Foundation

/// `evac-bench export --size N --dir DIR`: the scale fleet as files the CLI reads, a YAML plan
/// and an inventory snapshot, so whole commands can be timed (`evac plan DIR/scale-N.yaml
/// --inventory DIR/scale-N.inventory.json --output html`, with and without --verbose).
enum Export {
    static func run(size n: Int, dir: String, seed: UInt64) throws {
        let hosts = max(10, n / 10)
        let sources = max(1, hosts / 5)
        let (spec, inventory) = FleetGenerator.scale(guests: n, hosts: hosts, sources: sources, seed: seed)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let base = "\(dir)/\(spec.name)"
        try inventory.encodedSnapshot().write(to: URL(fileURLWithPath: base + ".inventory.json"))
        try yaml(spec).write(toFile: base + ".yaml", atomically: true, encoding: .utf8)
        print("wrote \(base).yaml and \(base).inventory.json: \(n) guests, \(hosts) hosts, \(sources) sources")
    }

    static func q(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    static func yaml(_ spec: PlanSpec) -> String {
        var y = "version: 1\nname: \(spec.name)\nhosts:\n"
        for h in spec.hosts {
            y += "  \(h.name): { uri: \(q(h.uri))\(h.cpuPool.map { ", cpu-pool: \(q($0))" } ?? "") }\n"
        }
        y += "sources: [\(spec.sourceNames.joined(separator: ", "))]\n"
        y +=
            "targets:\n"
            + spec.targetPools.map {
                "  - { pool: \($0.name), hosts: [\($0.hosts.map(\.value).joined(separator: ", "))] }\n"
            }.joined()
        let c = spec.constraints
        y += "constraints:\n  memory-reserve: \(c.memoryReserveBytes / 1024)KiB\n"
        if let r = c.maxVCPURatio { y += "  max-vcpu-ratio: \(r)\n" }
        y += "  local-storage: \(c.localStorage.rawValue)\n"
        if !c.antiAffinity.isEmpty {
            y +=
                "  anti-affinity:\n"
                + c.antiAffinity.map { g in
                    "    - { name: \(g.name), guests: [\(g.guests.map { q($0.value.pattern) }.joined(separator: ", "))], max-in-flight: \(g.maxInFlight) }\n"
                }.joined()
        }
        if !c.pins.isEmpty {
            y +=
                "  pin: { " + c.pins.map { "\(q($0.guest.value.pattern)): \($0.host.value)" }.joined(separator: ", ")
                + " }\n"
        }
        return y
    }

    /// The plan page of each scale fleet: CPU time of `PlanPage.render` (best of 3) and its bytes;
    /// with `--dir`, the pages are written there for a browser to be timed on.
    static func html(sizes: [Int], seed: UInt64, dir: String?) {
        print("guests  migrations  targets  render(cpu, best of 3)  page bytes  mode")
        for n in sizes {
            let hosts = max(10, n / 10)
            let sources = max(1, hosts / 5)
            let (spec, inventory) = FleetGenerator.scale(guests: n, hosts: hosts, sources: sources, seed: seed)
            let result = Placer.place(spec: spec, inventory: inventory)
            guard let built = MigrationGraph.build(spec: spec, placements: result.placements, file: "bench.yaml").graph
            else { continue }
            let drain = DrainEstimate(built, options: spec.migration, order: spec.placement.order)
            let (graph, timeline) = (drain.graph, drain.timeline)
            let plan = PlanFile(
                spec: spec, planSource: .init(path: "bench.yaml", sha256: ""), inventory: inventory,
                result: result, graph: graph, timeline: timeline)
            var page = ""
            var best = Double.infinity
            for _ in 0..<3 {
                let t0 = clock()
                page = PlanPage.render(plan: plan, timeline: timeline)
                best = min(best, Double(clock() - t0) / Double(CLOCKS_PER_SEC) * 1000)
            }
            if let dir {
                try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                try? page.write(toFile: "\(dir)/plan-\(n).html", atomically: true, encoding: .utf8)
            }
            let mode = page.contains("data-mode=\"dense\"") ? "dense" : "detail"
            print(
                String(
                    format: "%6d  %10d  %7d  %19.1f ms  %10d  %@", n, graph.nodes.count, plan.targetUsage.count, best,
                    page.utf8.count, mode))
        }
    }
}
