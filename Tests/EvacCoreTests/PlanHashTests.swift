import EvacBench
import EvacCore
import Foundation
import Testing

/// The plan hash is the plan's identity: it must change with every decision and with nothing
/// else, so that an unchanged plan on an unchanged fleet keeps its journal (issue 8).
@Suite struct PlanHashTests {
    static func plan(freeMemory: (String) -> UInt64 = { _ in 0 }) -> PlanFile {
        var (spec, inventory) = FleetGenerator.scale(guests: 24, hosts: 8, sources: 2, seed: 11)
        spec.migration.timeout = .perGiB(milliseconds: 30000)
        spec.migration.bandwidthBytesPerSec = 1 << 30
        spec.migration.progressTimeoutMs = 150_000
        spec.constraints.bridgeMap = ["br0": "br-new"]
        spec.constraints.maxVCPURatio = 8
        spec.constraints.memoryReserveBytes = 1 << 30
        for i in inventory.hosts.indices { inventory.hosts[i].freeMemoryKiB = freeMemory(inventory.hosts[i].name) }
        let result = Placer.place(spec: spec, inventory: inventory)
        let graph = MigrationGraph.build(spec: spec, placements: result.placements, file: "p.yaml").graph!
        return PlanFile(
            spec: spec, planSource: .init(path: "p.yaml", sha256: String(repeating: "cd", count: 32)),
            inventory: inventory, result: result, graph: graph,
            timeline: Timeline.estimate(graph, bandwidth: nil, assumedBandwidth: 1 << 30), hashed: false
        ).sealed().file
    }

    @Test("libvirt's momentary free memory is in neither the plan file nor its hash")
    func freeMemoryDoesNotMatter() {
        let a = Self.plan(freeMemory: { _ in 1_000_000 })
        let b = Self.plan(freeMemory: { name in UInt64(name.count) * 7_777_777 })
        #expect(a.planHash == b.planHash)
        #expect(a.sealed().data == b.sealed().data, "byte for byte")
    }

    @Test("the estimate, the evac version and where the plan came from are not decisions")
    func informationalMembers() {
        let p = Self.plan()
        var q = p
        q.estimatedDurationMs *= 3
        q.evacVersion = "9.9"
        q.planSource = .init(path: "other.yaml", sha256: "00")
        #expect(q.computedHash == p.planHash)
    }

    /// Every leaf of the plan file's JSON but the informational ones, changed on its own,
    /// changes the hash: a field added later is covered unless it is named here on purpose.
    @Test func everyOtherLeafChangesTheHash() throws {
        let p = Self.plan()
        #expect(
            !p.unplaceable.isEmpty && !p.graph.nodes.isEmpty && !p.targetUsage.isEmpty,
            "the fixture exercises every list")
        let root = try JSONSerialization.jsonObject(with: p.sealed().data)
        let informational: Set<String> = [
            "planHash", "estimatedDurationMs", "evacVersion", "planSource.path", "planSource.sha256",
            "graph.nodes[].predictedStartMs", "graph.nodes[].predictedDurationMs",
        ]
        var leaves: [(path: String, keys: [Any])] = []
        func walk(_ v: Any, _ path: String, _ keys: [Any]) {
            if let d = v as? [String: Any] {
                for (k, x) in d { walk(x, path.isEmpty ? k : "\(path).\(k)", keys + [k]) }
            } else if let a = v as? [Any] {
                for (i, x) in a.enumerated() { walk(x, "\(path)[]", keys + [i]) }
            } else {
                leaves.append((path, keys))
            }
        }
        walk(root, "", [])
        // Every field path once (the first two array elements of it): each path is one field.
        var seen: [String: Int] = [:]
        leaves = leaves.filter {
            seen[$0.path, default: 0] += 1
            return seen[$0.path]! <= 2
        }
        func set(_ v: Any, _ keys: ArraySlice<Any>, _ f: (Any) -> Any?) -> Any? {
            guard let k = keys.first else { return f(v) }
            if var d = v as? [String: Any], let k = k as? String, let x = d[k] {
                guard let n = set(x, keys.dropFirst(), f) else { return nil }
                d[k] = n
                return d
            }
            if var a = v as? [Any], let i = k as? Int {
                guard let n = set(a[i], keys.dropFirst(), f) else { return nil }
                a[i] = n
                return a
            }
            return nil
        }
        var checked = 0
        var undecodable = Set<String>()
        for leaf in leaves {
            let changed = set(root, leaf.keys[...]) { v in
                if let b = v as? Bool, !(v is Int), !(v is Double) { return !b }
                if let n = v as? NSNumber, String(cString: n.objCType) == "c" { return !n.boolValue }
                if let n = v as? NSNumber { return n.doubleValue + 1 }
                if let s = v as? String { return s + "x" }
                return nil
            }
            guard let changed, let data = try? JSONSerialization.data(withJSONObject: changed),
                let q = try? JSONDecoder().decode(PlanFile.self, from: data)
            else {
                undecodable.insert(leaf.path)
                continue
            }
            checked += 1
            if informational.contains(leaf.path) {
                #expect(q.computedHash == p.planHash, "\(leaf.path) is informational")
            } else {
                #expect(q.computedHash != p.planHash, "changing \(leaf.path) must change the hash")
            }
        }
        #expect(checked > 80)
        // Enumerations (mode, cpu policy, a refusal's filter id, …) do not decode with an "x"
        // appended; that is fine.
        #expect(
            undecodable.allSatisfy {
                ["mode", "cpu", "bridges", "onFailure", "postCopy", "format", "kind", "state", "filter"]
                    .contains(where: $0.hasSuffix)
            }, "\(undecodable.sorted())")
    }
}
