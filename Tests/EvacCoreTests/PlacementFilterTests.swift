import XCTest

@testable import EvacCore

/// Each filter rejects with its own name and exact reason.
final class PlacementFilterTests: XCTestCase {
    func testUnreachableAndIsSource() {
        let spec = Fx.plan(sources: ["src"], targets: ["src", "gone", "small"])
        let r = Fx.place(
            spec, [Fx.host("src", gib: 64, guests: [Fx.vm("a", gib: 8)]), Fx.host("small", gib: 4)],
            unreachable: [UnreachableHost(name: "gone", uri: "qemu+ssh://gone/system", error: "timeout")])
        XCTAssertEqual(
            r.unplaceable.first?.candidates,
            [
                Rejection(target: "gone", filter: "unreachable", reason: "unreachable (qemu+ssh://gone/system)"),
                Rejection(target: "small", filter: "memory", reason: "4.0 GiB free after reserve, needs 8.0 GiB"),
                Rejection(target: "src", filter: "is-source", reason: "is a source of this plan"),
            ])
    }

    func testArch() {
        let r = Fx.place(
            Fx.plan(sources: ["s"], targets: ["t"]),
            [Fx.host("s", gib: 64, guests: [Fx.vm("a", gib: 1)]), Fx.host("t", gib: 64, arch: "aarch64")])
        XCTAssertEqual(
            Fx.rejection(r, "a", "t"),
            Rejection(target: "t", filter: "arch", reason: "arch aarch64, guest needs x86_64"))
    }

    func testCPUVendorModelFeatures() {
        let guests = [
            Fx.vm("hm", gib: 1), Fx.vm("pt", gib: 1, cpu: GuestCPU(mode: .hostPassthrough)),
            Fx.vm("cu", gib: 1, cpu: GuestCPU(mode: .custom, model: "Cooper", features: ["amx"])),
            Fx.vm("no", gib: 1, cpu: GuestCPU(mode: .none)),
        ]
        let spec = Fx.plan(sources: ["s"], targets: ["amd", "sky"])
        let r = Fx.place(
            spec,
            [
                Fx.host("s", gib: 64, guests: guests), Fx.host("amd", gib: 64, cpu: Fx.milan),
                Fx.host("sky", gib: 64, cpu: Fx.skylake),
            ])
        XCTAssertEqual(
            Fx.rejection(r, "hm", "amd"),
            Rejection(target: "amd", filter: "cpu-vendor", reason: "CPU vendor AMD, guest needs Intel"))
        XCTAssertEqual(
            Fx.rejection(r, "hm", "sky"),
            Rejection(
                target: "sky", filter: "cpu-features",
                reason: "CPU lacks pku (host-model guest needs what its source exposes)"))
        XCTAssertEqual(
            Fx.rejection(r, "pt", "sky"),
            Rejection(
                target: "sky", filter: "cpu-model",
                reason: "CPU model Skylake-Server, host-passthrough guest needs Icelake-Server"))
        XCTAssertEqual(
            Fx.rejection(r, "cu", "sky"),
            Rejection(
                target: "sky", filter: "cpu-features",
                reason: "CPU lacks amx (custom model Cooper requires them)"))
        XCTAssertEqual(Fx.target(r, "no"), "sky", "no <cpu>: only the vendor matters")
    }

    func testCPUPoolAndIgnore() {
        var spec = Fx.plan(sources: ["s"], targets: ["p1", "p2", "none"], pools: ["s": "p1", "p1": "p1", "p2": "p2"])
        spec.constraints.cpu = .pool
        let hosts = [
            Fx.host("s", gib: 64, guests: [Fx.vm("a", gib: 40)]), Fx.host("p1", gib: 32), Fx.host("p2", gib: 64),
            Fx.host("none", gib: 64, cpu: Fx.milan),
        ]
        let r = Fx.place(spec, hosts)
        XCTAssertEqual(
            Fx.rejection(r, "a", "p2"),
            Rejection(target: "p2", filter: "cpu-pool", reason: "cpu-pool p2, source is in p1"))
        XCTAssertEqual(
            Fx.rejection(r, "a", "none"),
            Rejection(target: "none", filter: "cpu-pool", reason: "cpu-pool (none), source is in p1"))
        XCTAssertEqual(Fx.rejection(r, "a", "p1")?.filter, "memory")
        spec.constraints.cpu = .ignore
        XCTAssertEqual(Fx.target(Fx.place(spec, hosts), "a"), "none", "ignore: an AMD host may take an Intel guest")
    }

    func testBridgeNetworkAndBridgeMap() {
        let nics = [GuestNIC(kind: .bridge, source: "br-storage"), GuestNIC(kind: .network, source: "prod")]
        var spec = Fx.plan(sources: ["s"], targets: ["t1", "t2"])
        let hosts = [
            Fx.host("s", gib: 64, guests: [Fx.vm("a", gib: 1, nics: nics)]),
            Fx.host("t1", gib: 64, bridges: ["br0"], networks: ["prod"]),
            Fx.host("t2", gib: 64, bridges: ["br-storage"], networks: []),
        ]
        var r = Fx.place(spec, hosts)
        XCTAssertEqual(
            Fx.rejection(r, "a", "t1"), Rejection(target: "t1", filter: "bridge", reason: "bridge br-storage missing"))
        XCTAssertEqual(
            Fx.rejection(r, "a", "t2"), Rejection(target: "t2", filter: "bridge", reason: "network prod missing"))
        spec.constraints.bridgeMap = ["br-storage": "br0"]
        r = Fx.place(spec, hosts)
        XCTAssertEqual(Fx.target(r, "a"), "t1", "bridge-map renames br-storage to br0 on the target")
        spec.constraints.bridgeMap = ["br-storage": "br-st"]
        r = Fx.place(spec, hosts)
        XCTAssertEqual(Fx.rejection(r, "a", "t1")?.reason, "bridge br-st missing (bridge-map from br-storage)")
        spec.constraints.bridges = .ignore
        XCTAssertNotNil(Fx.target(Fx.place(spec, hosts), "a"))
    }

    func testNameConflictExistingAndPlanned() {
        let spec = Fx.plan(sources: ["s1", "s2"], targets: ["t"])
        let r = Fx.place(
            spec,
            [
                Fx.host("s1", gib: 64, guests: [Fx.vm("web", gib: 1), Fx.vm("dup", gib: 2)]),
                Fx.host(
                    "s2", gib: 64,
                    guests: [Guest(uuid: "other", name: "dup", state: .running, memoryKiB: Fx.gib, vcpus: 1)]),
                Fx.host("t", gib: 64, guests: [Fx.vm("web", gib: 1)]),
            ])
        XCTAssertEqual(
            Fx.rejection(r, "web", "t"),
            Rejection(target: "t", filter: "name-conflict", reason: "a guest named web is already defined here"))
        XCTAssertEqual(r.placements.filter { $0.guest == "dup" }.count, 1)
        let left = r.unplaceable.first { $0.guest == "dup" }
        XCTAssertEqual(
            left?.candidates,
            [Rejection(target: "t", filter: "name-conflict", reason: "a guest named dup from s1 is planned here")])
    }

    func testPin() {
        var spec = Fx.plan(sources: ["s"], targets: ["big", "small"])
        spec.constraints.pins = [PinRule(guest: Located(Glob("db-*")), host: Located("small"))]
        let hosts = [
            Fx.host("s", gib: 64, guests: [Fx.vm("db-1", gib: 8), Fx.vm("db-2", gib: 8)]),
            Fx.host("big", gib: 64), Fx.host("small", gib: 12),
        ]
        let r = Fx.place(spec, hosts)
        XCTAssertEqual(r.placements.map(\.target), ["small"])
        let left = r.unplaceable.first!
        XCTAssertEqual(
            left.candidates,
            [
                Rejection(target: "big", filter: "pin", reason: "pinned to small (constraints.pins)"),
                Rejection(target: "small", filter: "memory", reason: "4.0 GiB free after reserve, needs 8.0 GiB"),
            ])
    }

    func testMemoryCountsReserveExistingAndPlanned() {
        var spec = Fx.plan(sources: ["s"], targets: ["t"])
        spec.constraints.memoryReserveBytes = 4 * Fx.gib * 1024
        // 32 GiB − 4 reserve − 10 existing (one shut off: it may start) = 18 free; b (16, largest
        // first) leaves 2, too little for a.
        let existing = [Fx.vm("x", gib: 6), Fx.vm("y", gib: 4, state: .shutoff)]
        let r = Fx.place(
            spec,
            [
                Fx.host("s", gib: 64, guests: [Fx.vm("a", gib: 12), Fx.vm("b", gib: 16)]),
                Fx.host("t", gib: 32, guests: existing),
            ])
        XCTAssertEqual(Fx.target(r, "b"), "t")
        XCTAssertEqual(
            Fx.rejection(r, "a", "t"),
            Rejection(target: "t", filter: "memory", reason: "2.0 GiB free after reserve, needs 12.0 GiB"))
        XCTAssertEqual(
            r.targets,
            [
                TargetUsage(
                    host: "t", memoryKiB: 32 * Fx.gib, reserveKiB: 4 * Fx.gib, usedBeforeKiB: 10 * Fx.gib,
                    usedAfterKiB: 26 * Fx.gib, cpus: 32,
                    vcpusBefore: 4, vcpusAfter: 6, incoming: 1)
            ])
    }

    func testVCPURatio() {
        var spec = Fx.plan(sources: ["s"], targets: ["t"])
        spec.constraints.maxVCPURatio = 1.5
        let r = Fx.place(
            spec,
            [
                Fx.host("s", gib: 64, guests: [Fx.vm("a", gib: 1, vcpus: 8), Fx.vm("b", gib: 2, vcpus: 8)]),
                Fx.host("t", gib: 64, cpus: 8, guests: [Fx.vm("x", gib: 1, vcpus: 2)]),
            ])
        XCTAssertEqual(r.placements.map(\.guest), ["b"], "largest first: b takes the last vCPUs")
        XCTAssertEqual(
            Fx.rejection(r, "a", "t"),
            Rejection(
                target: "t", filter: "vcpu-ratio",
                reason: "would run 18 vCPUs on 8 CPUs (2.25 per CPU), max-vcpu-ratio is 1.5"))
    }

    func testAntiAffinity() {
        var spec = Fx.plan(sources: ["s"], targets: ["t1", "t2"])
        spec.constraints.antiAffinity = [AntiAffinityGroup(name: "db", guests: [Located(Glob("db-*"))], maxInFlight: 1)]
        let r = Fx.place(
            spec,
            [
                Fx.host("s", gib: 64, guests: [Fx.vm("db-1", gib: 2), Fx.vm("db-2", gib: 2), Fx.vm("db-3", gib: 2)]),
                Fx.host("t1", gib: 64, guests: [Fx.vm("db-0", gib: 1)]), Fx.host("t2", gib: 64),
            ])
        XCTAssertEqual(r.placements.map(\.target), ["t2"])
        XCTAssertEqual(r.placements.map(\.guest), ["db-1"])
        XCTAssertEqual(
            Fx.rejection(r, "db-2", "t1"),
            Rejection(target: "t1", filter: "anti-affinity", reason: "anti-affinity group db: db-0 already runs here"))
        XCTAssertEqual(
            Fx.rejection(r, "db-2", "t2"),
            Rejection(target: "t2", filter: "anti-affinity", reason: "anti-affinity group db: db-1 is planned here"))
    }
}
