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
                Rejection(target: "gone", filter: .unreachable, reason: "unreachable (qemu+ssh://gone/system)"),
                Rejection(target: "small", filter: .memory, reason: "4.0 GiB free after reserve, needs 8.0 GiB"),
                Rejection(target: "src", filter: .isSource, reason: "is a source of this plan"),
            ])
    }

    func testArch() {
        let r = Fx.place(
            Fx.plan(sources: ["s"], targets: ["t"]),
            [Fx.host("s", gib: 64, guests: [Fx.vm("a", gib: 1)]), Fx.host("t", gib: 64, arch: "aarch64")])
        XCTAssertEqual(
            Fx.rejection(r, "a", "t"),
            Rejection(target: "t", filter: .arch, reason: "arch aarch64, guest needs x86_64"))
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
            Rejection(target: "amd", filter: .cpuVendor, reason: "CPU vendor AMD, guest needs Intel"))
        XCTAssertEqual(
            Fx.rejection(r, "hm", "sky"),
            Rejection(
                target: "sky", filter: .cpuFeatures,
                reason: "CPU lacks pku (host-model guest needs what its source exposes)"))
        XCTAssertEqual(
            Fx.rejection(r, "pt", "sky"),
            Rejection(
                target: "sky", filter: .cpuModel,
                reason: "CPU model Skylake-Server, host-passthrough guest needs Icelake-Server"))
        XCTAssertEqual(
            Fx.rejection(r, "cu", "sky"),
            Rejection(
                target: "sky", filter: .cpuFeatures,
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
            Rejection(target: "p2", filter: .cpuPool, reason: "cpu-pool p2, source is in p1"))
        XCTAssertEqual(
            Fx.rejection(r, "a", "none"),
            Rejection(target: "none", filter: .cpuPool, reason: "cpu-pool (none), source is in p1"))
        XCTAssertEqual(Fx.rejection(r, "a", "p1")?.filter, .memory)
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
            Fx.rejection(r, "a", "t1"), Rejection(target: "t1", filter: .bridge, reason: "bridge br-storage missing"))
        XCTAssertEqual(
            Fx.rejection(r, "a", "t2"), Rejection(target: "t2", filter: .bridge, reason: "network prod missing"))
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
            Rejection(target: "t", filter: .nameConflict, reason: "a guest named web is already defined here"))
        XCTAssertEqual(r.placements.filter { $0.guest == "dup" }.count, 1)
        let left = r.unplaceable.first { $0.guest == "dup" }
        XCTAssertEqual(
            left?.candidates,
            [Rejection(target: "t", filter: .nameConflict, reason: "a guest named dup from s1 is planned here")])
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
                Rejection(target: "big", filter: .pin, reason: "pinned to small (constraints.pins)"),
                Rejection(target: "small", filter: .memory, reason: "4.0 GiB free after reserve, needs 8.0 GiB"),
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
            Rejection(target: "t", filter: .memory, reason: "2.0 GiB free after reserve, needs 12.0 GiB"))
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
                target: "t", filter: .vcpuRatio,
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
            Rejection(target: "t1", filter: .antiAffinity, reason: "anti-affinity group db: db-0 already runs here"))
        XCTAssertEqual(
            Fx.rejection(r, "db-2", "t2"),
            Rejection(target: "t2", filter: .antiAffinity, reason: "anti-affinity group db: db-1 is planned here"))
    }

    /// An inactive libvirt network is no network to start a guest on: placement says so, as the
    /// pre-check (active networks only) and libvirt would.
    func testInactiveNetworkIsRejected() {
        let nics = [GuestNIC(kind: .network, source: "prod")]
        var down = Fx.host("down", gib: 64)
        down.networks = [NetworkInfo(name: "prod", bridge: "virbr1", active: false)]
        let r = Fx.place(
            Fx.plan(sources: ["s"], targets: ["down"]),
            [Fx.host("s", gib: 64, guests: [Fx.vm("a", gib: 1, nics: nics)]), down])
        XCTAssertEqual(
            Fx.rejection(r, "a", "down"), Rejection(target: "down", filter: .bridge, reason: "network prod inactive"))
        XCTAssertNil(Fx.target(r, "a"))
    }

    /// A disk on shared storage (an NFS pool) is not copied: only a target with the same shared
    /// pool directory (or, for volumes, a shared pool of that name) can run the guest.
    func testSharedStorageMustBeReachableOnTheTarget() {
        let nfs = StoragePoolInfo(name: "nfs-images", type: "netfs", targetPath: "/srv/nfs/images/", shared: true)
        let ceph = StoragePoolInfo(name: "ceph", type: "rbd", targetPath: nil, shared: true)
        let disks = [GuestDisk(kind: .file, target: "vda", source: "/srv/nfs/images/a.qcow2", shared: true)]
        let vol = [GuestDisk(kind: .volume, target: "vda", source: "ceph/b-disk", shared: true)]
        var source = Fx.host("s", gib: 64, guests: [Fx.vm("a", gib: 1, disks: disks), Fx.vm("b", gib: 1, disks: vol)])
        source.storagePools = [nfs, ceph]
        var mounted = Fx.host("mounted", gib: 16)
        mounted.storagePools = [
            StoragePoolInfo(name: "images", type: "netfs", targetPath: "/srv/nfs/images", shared: true)
        ]
        var local = Fx.host("local", gib: 64)
        local.storagePools = [
            StoragePoolInfo(name: "nfs-images", type: "dir", targetPath: "/srv/nfs/images", shared: false),
            StoragePoolInfo(name: "ceph", type: "dir", targetPath: "/var/lib/ceph-copy", shared: false),
        ]
        let r = Fx.place(Fx.plan(sources: ["s"], targets: ["local", "mounted"]), [source, mounted, local])
        XCTAssertEqual(
            Fx.target(r, "a"), "mounted", "the same directory from a shared pool of another name is reachable")
        XCTAssertEqual(
            Fx.rejection(r, "b", "local"),
            Rejection(
                target: "local", filter: .storage,
                reason: "no shared pool ceph (the guest has volumes in it)"))
        XCTAssertEqual(Fx.rejection(r, "b", "mounted")?.filter, .storage)
        let alone = Fx.place(Fx.plan(sources: ["s"], targets: ["local"]), [source, local])
        XCTAssertEqual(
            Fx.rejection(alone, "a", "local"),
            Rejection(
                target: "local", filter: .storage,
                reason:
                    "no shared pool at /srv/nfs/images (the guest's disks are on shared pool nfs-images there on its source)"
            ))
    }

    /// libvirt refuses VIR_MIGRATE_OFFLINE with NON_SHARED_DISK ("offline migration cannot
    /// handle non-shared storage"): a shut-off guest with local disks is refused, not planned.
    func testShutOffGuestWithLocalDisksIsRefused() {
        var spec = Fx.plan(sources: ["s"], targets: ["t"])
        spec.constraints.localStorage = .copy
        let disks = [GuestDisk(kind: .file, target: "vda", source: "/var/lib/libvirt/images/a.qcow2", shared: false)]
        // libvirt pre-creates the copied disk in the target's pool at its directory.
        var target = Fx.host("t", gib: 64)
        target.storagePools = [
            StoragePoolInfo(name: "default", type: "dir", targetPath: "/var/lib/libvirt/images", shared: false)
        ]
        let r = Fx.place(
            spec,
            [
                Fx.host(
                    "s", gib: 64,
                    guests: [
                        Fx.vm("off", gib: 1, state: .shutoff, disks: disks),
                        Fx.vm("on", gib: 1, disks: disks),
                    ]), target,
            ])
        XCTAssertEqual(Fx.target(r, "on"), "t", "a running guest's disks are copied live")
        XCTAssertEqual(r.placements.first { $0.guest == "on" }?.copyStorage, ["vda"])
        let off = r.unplaceable.first { $0.guest == "off" }
        XCTAssertEqual(
            off?.guestReason,
            "is shut off with local disk vda (/var/lib/libvirt/images/a.qcow2): libvirt cannot copy storage in an offline migration; start it to move it live with its disks, or skip stopped guests (select.stopped: skip)"
        )
        XCTAssertNil(Fx.target(r, "off"))
    }

    /// QEMU migrates to the same or a newer version only: an older target is rejected for a
    /// running guest (with both versions named), not for a shut-off one (a fresh QEMU starts).
    func testOlderQEMUIsRejectedForRunningGuests() {
        var source = Fx.host("s", gib: 64, guests: [Fx.vm("on", gib: 1), Fx.vm("off", gib: 1, state: .shutoff)])
        source.hypervisorVersion = "8.2.0"
        var old = Fx.host("old", gib: 64)
        old.hypervisorVersion = "7.2.0"
        var new = Fx.host("new", gib: 8)
        new.hypervisorVersion = "8.2.10"
        let r = Fx.place(Fx.plan(sources: ["s"], targets: ["old"]), [source, old])
        XCTAssertEqual(
            Fx.rejection(r, "on", "old"),
            Rejection(
                target: "old", filter: .version,
                reason: "QEMU 7.2.0 here is older than the source's 8.2.0 (migration to an older QEMU is not supported)"
            ))
        XCTAssertEqual(Fx.target(r, "off"), "old")
        XCTAssertEqual(
            Fx.target(Fx.place(Fx.plan(sources: ["s"], targets: ["new"]), [source, new]), "on"), "new",
            "8.2.10 is newer than 8.2.0 (numbers, not text)")
    }

    /// A NIC's network filter must exist on the target; a host that could not list its filters
    /// is not judged (unknown is not "none").
    func testNetworkFilterMustExistOnTheTarget() {
        let nics = [GuestNIC(kind: .bridge, source: "br0", filter: "clean-traffic")]
        var bare = Fx.host("bare", gib: 64)
        bare.nwfilters = ["no-arp-spoofing"]
        var full = Fx.host("full", gib: 8)
        full.nwfilters = ["clean-traffic", "no-arp-spoofing"]
        let unknown = Fx.host("unknown", gib: 4)
        let source = Fx.host("s", gib: 64, guests: [Fx.vm("a", gib: 2, nics: nics)])
        let r = Fx.place(Fx.plan(sources: ["s"], targets: ["bare"]), [source, bare])
        XCTAssertEqual(
            Fx.rejection(r, "a", "bare"),
            Rejection(target: "bare", filter: .nwfilter, reason: "network filter clean-traffic missing"))
        XCTAssertEqual(
            Fx.target(Fx.place(Fx.plan(sources: ["s"], targets: ["bare", "full"]), [source, bare, full]), "a"), "full")
        XCTAssertEqual(
            Fx.target(Fx.place(Fx.plan(sources: ["s"], targets: ["unknown"]), [source, unknown]), "a"), "unknown")
    }

    /// The guest's machine type must be one the target's QEMU offers.
    func testMachineTypeMustBeOfferedByTheTarget() {
        var guest = Fx.vm("q35", gib: 1)
        guest.machine = "pc-q35-8.2"
        var old = Fx.host("old", gib: 64)
        old.machineTypes = ["pc", "pc-i440fx-7.2", "pc-q35-7.2", "q35"]
        var new = Fx.host("new", gib: 8)
        new.machineTypes = ["pc-q35-7.2", "pc-q35-8.2"]
        let source = Fx.host("s", gib: 64, guests: [guest])
        let r = Fx.place(Fx.plan(sources: ["s"], targets: ["old"]), [source, old])
        XCTAssertEqual(
            Fx.rejection(r, "q35", "old"),
            Rejection(target: "old", filter: .machine, reason: "QEMU here has no machine type pc-q35-8.2"))
        XCTAssertEqual(
            Fx.target(Fx.place(Fx.plan(sources: ["s"], targets: ["old", "new"]), [source, old, new]), "q35"), "new")
    }
}
