import EvacCore
import EvacRun
import EvacYAML
import Foundation

/// The entry points the fuzzers drive (scripts/fuzz) and the regression test replays
/// (Fuzz/crashers/<target>/): bytes in, through exactly the code evac runs on that input,
/// and nothing may trap. Each returns a short word about how far the input got, which the
/// replay test prints and no assertion depends on.
public enum FuzzTargets {
    public enum Target: String, CaseIterable, Sendable {
        /// YAML plan text → plan language → diagnostics rendered as the CLI shows them.
        case plan
        /// Inventory snapshot JSON → checked inventory → fingerprint.
        case snapshot
        /// Plan file JSON → seal and structure checks → timeline and cycle search.
        case planfile
        /// SQLite journal file bytes → status, stored plan, step history.
        case journal
    }

    @discardableResult
    public static func run(_ target: Target, _ bytes: [UInt8]) -> String {
        switch target {
        case .plan: return plan(bytes)
        case .snapshot: return snapshot(bytes)
        case .planfile: return planFile(bytes)
        case .journal: return journal(bytes)
        }
    }

    static func plan(_ bytes: [UInt8]) -> String {
        let read = PlanDocument.read(bytes: bytes, path: "fuzz.yaml")
        let text = DiagnosticRenderer.render(read.diagnostics, sources: ["fuzz.yaml": read.source])
        guard let spec = read.spec else { return "invalid (\(read.diagnostics.count), \(text.utf8.count) bytes)" }
        // The rest of `evac plan` on a small made-up fleet: the fuzzed constraints (globs,
        // groups, pins, after rules, limits) then reach placement, the DAG and the timeline.
        let inventory = fleet(for: spec)
        _ = InventoryChecks.check(spec, inventory: inventory, file: "fuzz.yaml")
        let result = Placer.place(spec: spec, inventory: inventory)
        guard let built = MigrationGraph.build(spec: spec, placements: result.placements, file: "fuzz.yaml").0 else {
            return "valid, cycle"
        }
        let drain = DrainEstimate(
            built, options: MigrationOptionSet(spec), order: spec.placement.order, loads: inventory.migrationLoads)
        let (graph, timeline) = (drain.graph, drain.timeline)
        let sealed = PlanFile(
            spec: spec, planSource: .init(path: "fuzz.yaml", sha256: ""), inventory: inventory, result: result,
            graph: graph, timeline: timeline, hashed: false
        ).sealed()
        // What evac writes, evac must read back.
        guard case .success = PlanFile.decode(sealed.data) else { fatalError("evac refused a plan file it wrote") }
        return "valid, \(graph.nodes.count) migrations"
    }

    /// Up to 8 sources and 8 targets of the plan, each source with guests whose names the usual
    /// patterns match; figures vary with the host's position so placement has choices.
    static func fleet(for spec: PlanSpec) -> Inventory {
        let gib: UInt64 = 1 << 20
        let cpu = HostCPU(vendor: "Intel", model: "Icelake-Server", features: ["avx2"])
        var hosts: [HostInventory] = []
        for (i, name) in spec.sourceNames.prefix(8).enumerated() {
            let guests = ["db", "web", "app", "cache"].enumerated().map { k, kind in
                Guest(
                    uuid: "\(i)-\(k)", name: "\(kind)-\(i + 1)", state: k == 3 ? .shutoff : .running,
                    memoryKiB: UInt64(1 + (i + k) % 4) * gib, vcpus: 1 + k,
                    nics: [GuestNIC(kind: .bridge, source: "br0")])
            }
            hosts.append(
                HostInventory(
                    name: name, uri: spec.host(name)?.uri ?? "", memoryKiB: 64 * gib, cpus: 16, cpu: cpu,
                    bridges: ["br0"], guests: guests))
        }
        for (i, name) in spec.targetNames.prefix(8).enumerated() where !spec.sourceNames.contains(name) {
            hosts.append(
                HostInventory(
                    name: name, uri: spec.host(name)?.uri ?? "", memoryKiB: UInt64(8 + 8 * i) * gib, cpus: 8 + i,
                    cpu: cpu, bridges: i % 2 == 0 ? ["br0"] : ["br1"]))
        }
        return Inventory(hosts: hosts)
    }

    static func snapshot(_ bytes: [UInt8]) -> String {
        let data = Data(bytes)
        switch Inventory.decodeSnapshot(data) {
        case .failure(let e): return "refused: \(e.message.prefix(60))"
        case .success(let inv):
            // The snapshot reader is written for the schema; JSONDecoder is its reference. Where
            // both accept a document they must read the same inventory.
            if let reference = try? JSONDecoder().decode(Inventory.self, from: data), reference != inv {
                fatalError("the snapshot reader and JSONDecoder read different inventories")
            }
            _ = inv.fingerprint
            _ = inv.encodedSnapshot()
            return "accepted (\(inv.hosts.count) hosts)"
        }
    }

    static func planFile(_ bytes: [UInt8]) -> String {
        switch PlanFile.decode(Data(bytes)) {
        case .failure(let e):
            // Almost every mutation breaks the seal, which would keep the fuzzer out of the
            // structure checks behind it: so also check the same document resealed, as a
            // crafted plan file (anyone can compute the hash) would be.
            guard e.message.contains("modified after it was written"),
                var plan = try? JSONDecoder().decode(PlanFile.self, from: Data(bytes))
            else { return "refused: \(e.message.prefix(60))" }
            plan.planHash = plan.computedHash
            guard case .success(let resealed) = PlanFile.decode(plan.encoded()) else {
                return "refused, and resealed refused"
            }
            use(resealed)
            return "refused, resealed accepted"
        case .success(let plan):
            use(plan)
            return "accepted (\(plan.graph.nodes.count) migrations)"
        }
    }

    /// What apply and the reports do with an accepted plan file before any host is contacted.
    static func use(_ plan: PlanFile) {
        _ = Timeline.estimate(plan)
        _ = Format.duration(ms: plan.estimatedDurationMs)
        _ = plan.targetUsage.map(\.headroomAfterKiB)
    }

    /// A private scratch directory for journal bytes (the state-directory rules apply to it).
    nonisolated(unsafe) static var scratch: String?

    static func journal(_ bytes: [UInt8]) -> String {
        let dir: String
        if let s = scratch {
            dir = s
        } else {
            // tmpfs where there is one: each input is written, opened and removed.
            let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm/" : NSTemporaryDirectory()
            var template = Array((base + "evac-fuzz-journal-XXXXXX").utf8CString)
            guard let made = mkdtemp(&template) else { return "no scratch directory" }
            dir = String(cString: made)
            scratch = dir
            // One directory a process, removed when it exits (libFuzzer exits through exit()).
            atexit { if let s = FuzzTargets.scratch { try? FileManager.default.removeItem(atPath: s) } }
        }
        let path = dir + "/fuzz-000000000000" + JournalLocation.journalSuffix
        for suffix in ["", "-wal", "-shm", "-journal", ".lock"] { unlink(path + suffix) }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return "cannot write scratch journal" }
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        defer { for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) } }
        var out: [String] = []
        do {
            let status = try JournalStatus.read(path: path)
            out.append("status \(status.apply.count)+\(status.rollback.count) steps")
            for s in (status.apply + status.rollback).prefix(4) {
                _ = try? JournalStatus.events(path: path, kind: s.kind, id: s.id)
            }
        } catch { out.append("status refused") }
        do {
            _ = try JournalStatus.storedPlan(path: path)
            out.append("plan accepted")
        } catch { out.append("plan refused") }
        return out.joined(separator: ", ")
    }
}
