import EvacBench
import EvacCore
import Foundation

enum Bench {
    /// Per size: a fleet of N guests on N/10 hosts, a fifth of them sources.
    static func placement(sizes: [Int], seed: UInt64) throws {
        print(
            "guests   hosts  sources    generate    snapshot   load(wall)   load(cpu)  place(wall)  place(cpu)  place/load   plan(wall)   plan(cpu)   plan/load    planfile  placed  unplaceable  skipped  peakRSS"
        )
        for n in sizes {
            let hosts = max(10, n / 10)
            let sources = max(1, hosts / 5)
            let (fleet, gen) = timed { FleetGenerator.scale(guests: n, hosts: hosts, sources: sources, seed: seed) }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let data = try encoder.encode(fleet.1)
            let (loaded, load) = try measured { try JSONDecoder().decode(Inventory.self, from: data) }
            let (result, place) = measured { Placer.place(spec: fleet.0, inventory: loaded) }
            // What `evac plan --inventory SNAP --output json` does after loading: placement, the
            // DAG, the timeline, the plan file with its hash, and its encoding.
            var planBytes = 0
            let plan = cpuTime {
                let r = Placer.place(spec: fleet.0, inventory: loaded)
                let drain = DrainEstimate(
                    MigrationGraph.build(spec: fleet.0, placements: r.placements, file: "bench.yaml").graph!,
                    options: fleet.0.migration, order: fleet.0.placement.order)
                let (graph, timeline) = (drain.graph, drain.timeline)
                let file = PlanFile(
                    spec: fleet.0, planSource: .init(path: "bench.yaml", sha256: String(repeating: "0", count: 64)),
                    inventory: loaded, result: r, graph: graph, timeline: timeline, hashed: false)
                planBytes = file.sealed().data.count
            }
            if ProcessInfo.processInfo.environment["EVAC_BENCH_BREAKDOWN"] != nil {
                let r = result
                let (built, g) = measured {
                    MigrationGraph.build(spec: fleet.0, placements: r.placements, file: "b").graph
                }
                guard let graph = built else { continue }
                let (tl, t) = measured { Timeline.estimate(graph, bandwidth: nil) }
                let f = cpuTime { _ = loaded.fingerprint }
                let (file, pf) = measured {
                    PlanFile(
                        spec: fleet.0, planSource: .init(path: "b", sha256: ""), inventory: loaded, result: r,
                        graph: graph, timeline: tl)
                }
                let enc = cpuTime { _ = file.encoded() }
                print(
                    "graph \(ms(g.cpu)) timeline \(ms(t.cpu)) fingerprint \(ms(f.cpu)) planfile-init \(ms(pf.cpu)) encode \(ms(enc.cpu))"
                )
            }
            print(
                [
                    pad(n, 6), pad(hosts, 6), pad(sources, 8), ms(gen), mib(data.count), ms(load.wall), ms(load.cpu),
                    ms(place.wall), ms(place.cpu),
                    String(format: "%10.3f", place.cpu / load.cpu), ms(plan.wall), ms(plan.cpu),
                    String(format: "%10.3f", plan.cpu / load.cpu), mib(planBytes), pad(result.placements.count, 7),
                    pad(result.unplaceable.count, 12), pad(result.skipped.count, 8), peakRSS(),
                ].joined(separator: "  "))
        }
    }

    /// The share of tight fleets (a complete placement exists by construction) that each
    /// strategy places completely, all on the same fleets.
    static func completeness(fleets: Int, seed: UInt64) {
        let strategies: [PlacerOptions.Strategy] = [.greedyAsListed, .greedyLargestFirst, .evac]
        var complete = Array(repeating: 0, count: strategies.count)
        var guests = 0
        var left = 0
        let elapsed = time {
            for i in 0..<fleets {
                let (spec, inv) = FleetGenerator.tight(seed: seed &* 1_000_003 &+ UInt64(i))
                for (k, s) in strategies.enumerated() {
                    let r = Placer.place(spec: spec, inventory: inv, options: PlacerOptions(strategy: s))
                    if r.unplaceable.isEmpty { complete[k] += 1 }
                    if s == .evac {
                        guests += r.placements.count + r.unplaceable.count
                        left += r.unplaceable.count
                    }
                }
            }
        }
        print("tight fleets: \(fleets) (seed \(seed), 20–200 guests, 4–20 targets, fill 90–100%)")
        for (k, s) in strategies.enumerated() {
            print(
                "  \(s.rawValue.padding(toLength: 22, withPad: " ", startingAt: 0)) complete \(complete[k])/\(fleets) = "
                    + String(format: "%.1f%%", 100 * Double(complete[k]) / Double(fleets)))
        }
        print("  evac left \(left) of \(guests) guests unplaced; total time \(ms(elapsed))")
    }

    /// CPU time of this thread, in seconds: robust against other load on a shared machine.
    static func cpuTime(_ body: () -> Void) -> (wall: Double, cpu: Double) { measured(body).1 }

    static func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// `body`'s value with its wall and CPU time, so results need no optional to escape a closure.
    static func measured<T>(_ body: () throws -> T) rethrows -> (T, (wall: Double, cpu: Double)) {
        let c0 = threadCPUSeconds()
        let (value, wall) = try timed(body)
        return (value, (wall, threadCPUSeconds() - c0))
    }

    /// `body`'s value with its wall time.
    static func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
        let start = DispatchTime.now().uptimeNanoseconds
        let value = try body()
        return (value, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    static func time(_ body: () -> Void) -> Double { timed(body).1 }

    static func ms(_ s: Double) -> String { String(format: "%8.1fms", s * 1000) }
    static func mib(_ bytes: Int) -> String { String(format: "%7.1fMiB", Double(bytes) / 1_048_576) }
    static func pad(_ n: Int, _ w: Int) -> String {
        String(repeating: " ", count: max(0, w - String(n).count)) + String(n)
    }

    /// VmHWM: the process's peak resident set so far (cumulative over the sizes of one run).
    static func peakRSS() -> String {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        else { return "n/a" }
        let kb = Double(line.split(separator: " ").dropFirst().first.flatMap { Double($0) } ?? 0)
        return String(format: "%.0fMiB", kb / 1024)
    }
}

extension Bench {
    /// Makespan of each order against the model's lower bound, on every drain shape.
    static func order(seeds: [UInt64]) {
        print(
            "shape                                                              seed  migrations  lower bound  largest-first  shortest-drain   LF/LB   SD/LB  order(cpu)"
        )
        for seed in seeds {
            for s in DrainFleet.shapes(seed: seed) {
                let durations = s.predictions.map(\.durationMs)
                let lb = Timeline.lowerBound(s.graph, durationsMs: durations)
                let lf = Timeline.schedule(s.graph, durationsMs: durations).totalMs
                var sd = 0.0
                let t = cpuTime {
                    let (g, p, _) = DrainOrder.apply(s.graph, predictions: s.predictions, order: .shortestDrain)
                    sd = Timeline.schedule(g, durationsMs: p.map(\.durationMs)).totalMs
                }
                print(
                    [
                        s.name.padding(toLength: 66, withPad: " ", startingAt: 0), pad(Int(seed), 4),
                        pad(s.graph.nodes.count, 10),
                        String(format: "%10.1fs", lb / 1000), String(format: "%12.1fs", lf / 1000),
                        String(format: "%13.1fs", sd / 1000),
                        String(format: "%7.3f", lf / lb), String(format: "%7.3f", sd / lb), ms(t.cpu),
                    ].joined(separator: "  "))
            }
        }
    }
}
