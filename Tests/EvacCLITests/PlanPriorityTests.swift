import EvacCore
import Foundation
import Testing

/// `placement.priority` end to end: a snapshot where not everything fits, planned by the real
/// binary; and `--read-concurrency` refused out of range.
struct PlanPriorityTests {
    func fleet(priority: Bool) throws -> (plan: String, snapshot: String, dir: URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evac-priority-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let gib: UInt64 = 1 << 20
        let cpu = HostCPU(vendor: "Intel", model: "Icelake-Server", features: ["avx2"])
        func vm(_ name: String, _ g: UInt64) -> Guest {
            Guest(
                uuid: "u-\(name)", name: name, state: .running, memoryKiB: g * gib, vcpus: 1,
                nics: [GuestNIC(kind: .bridge, source: "br0")],
                disks: [GuestDisk(kind: .network, target: "vda", source: "rbd:\(name)", shared: true)])
        }
        let inv = Inventory(hosts: [
            HostInventory(
                name: "src", uri: "qemu+ssh://src/system", memoryKiB: 64 * gib, cpus: 16, cpu: cpu, bridges: ["br0"],
                guests: [vm("db-1", 10), vm("web-1", 3), vm("web-2", 3), vm("web-3", 3)]),
            HostInventory(
                name: "dst", uri: "qemu+ssh://dst/system", memoryKiB: 10 * gib, cpus: 16, cpu: cpu, bridges: ["br0"]),
        ])
        let snapshot = dir.appendingPathComponent("snap.json").path
        try inv.encodedSnapshot().write(to: URL(fileURLWithPath: snapshot))
        let plan = dir.appendingPathComponent("plan.yaml").path
        try """
        version: 1
        name: priority
        hosts: { src: "qemu+ssh://src/system", dst: "qemu+ssh://dst/system" }
        sources: [src]
        targets: [ { pool: p, hosts: [dst] } ]
        \(priority ? "placement: { priority: [ { guests: [\"db-*\"], priority: 10 } ] }" : "")

        """.write(toFile: plan, atomically: true, encoding: .utf8)
        return (plan, snapshot, dir)
    }

    @Test func theMostGuestsWithoutPrioritiesTheDatabaseWithThem() throws {
        let plain = try fleet(priority: false)
        defer { try? FileManager.default.removeItem(at: plain.dir) }
        let a = try runEvac(["plan", plain.plan, "--inventory", plain.snapshot])
        #expect(a.status == 1)
        #expect(
            a.stdout.contains(
                "Unplaceable (1)\n  db-1 on src (10.0 GiB, 1 vCPU)\n    dst: 1.0 GiB free after reserve, needs 10.0 GiB"
            ),
            "\(a.stdout)")
        #expect(a.stdout.contains("not every guest fits"))

        let weighed = try fleet(priority: true)
        defer { try? FileManager.default.removeItem(at: weighed.dir) }
        let b = try runEvac(["plan", weighed.plan, "--inventory", weighed.snapshot])
        #expect(b.status == 1)
        #expect(b.stdout.contains("Unplaceable (3)"), "\(b.stdout)")
        #expect(b.stdout.contains("web-1 on src (3.0 GiB, 1 vCPU, priority 0)"))
        #expect(b.stdout.contains("db-1") && b.stdout.contains("→  dst"))
    }

    @Test func readConcurrencyIsChecked() throws {
        let f = try fleet(priority: false)
        defer { try? FileManager.default.removeItem(at: f.dir) }
        let r = try runEvac(["plan", f.plan, "--read-concurrency", "0"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("--read-concurrency must be 1–1024, found 0"), "\(r.stderr)")
    }
}
