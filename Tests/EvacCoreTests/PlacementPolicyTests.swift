import XCTest

@testable import EvacCore

/// Choice among targets, selection of guests, guest-level refusals, order and determinism.
final class PlacementPolicyTests: XCTestCase {
    func testMostFreeAndTieByName() {
        let spec = Fx.plan(sources: ["s"], targets: ["b", "a", "c"])
        let r = Fx.place(
            spec,
            [
                Fx.host("s", gib: 64, guests: [Fx.vm("g1", gib: 8), Fx.vm("g2", gib: 4), Fx.vm("g3", gib: 2)]),
                Fx.host("a", gib: 32), Fx.host("b", gib: 32), Fx.host("c", gib: 16),
            ])
        // g1 → a (32 = b, a wins by name), g2 → b (32 > 24), g3 → b? a 24, b 28 → b.
        XCTAssertEqual(r.placements.map { "\($0.guest)→\($0.target)" }, ["g1→a", "g2→b", "g3→b"])
        XCTAssertTrue(r.placements.allSatisfy { $0.offMostFree == nil })
    }

    func testLeastFreeMemoryPacks() {
        var spec = Fx.plan(sources: ["s"], targets: ["a", "b"])
        spec.placement.choose = .leastFreeMemory
        let r = Fx.place(
            spec,
            [
                Fx.host("s", gib: 64, guests: [Fx.vm("g1", gib: 8), Fx.vm("g2", gib: 4)]),
                Fx.host("a", gib: 32), Fx.host("b", gib: 12),
            ])
        XCTAssertEqual(r.placements.map(\.target), ["b", "b"])
    }

    func testNeverTheSource() {
        let spec = Fx.plan(sources: ["s"], targets: ["s", "t"])
        let r = Fx.place(spec, [Fx.host("s", gib: 512, guests: [Fx.vm("g", gib: 1)]), Fx.host("t", gib: 8)])
        XCTAssertEqual(r.placements.map(\.target), ["t"])
        XCTAssertEqual(r.targets.map(\.host), ["s", "t"])
        XCTAssertEqual(r.targets[0].incoming, 0)
    }

    func testSelectionStoppedAndTransient() {
        var spec = Fx.plan(sources: ["s"], targets: ["t"])
        spec.select.exclude = [Located(Glob("tmp-*"))]
        let guests = [
            Fx.vm("tmp-1", gib: 1), Fx.vm("off", gib: 1, state: .shutoff), Fx.vm("crashed", gib: 1, state: .crashed),
            Fx.vm("tr", gib: 1, persistent: false), Fx.vm("paused", gib: 1, state: .paused), Fx.vm("run", gib: 1),
        ]
        var target = Fx.host("t", gib: 64)
        target.storagePools = [
            StoragePoolInfo(name: "default", type: "dir", targetPath: "/var/lib/libvirt/images", shared: false)
        ]
        let hosts = [Fx.host("s", gib: 64, guests: guests), target]
        var r = Fx.place(spec, hosts)
        XCTAssertEqual(r.skipped.map { "\($0.guest):\($0.why)" }, ["tmp-1:excluded"])
        XCTAssertEqual(
            Dictionary(uniqueKeysWithValues: r.placements.map { ($0.guest, $0.mode) }),
            ["off": .offline, "crashed": .offline, "tr": .live, "paused": .live, "run": .live])

        spec.select.stopped = .skip
        spec.select.transient = .skip
        spec.select.include = [Located(Glob("*r*")), Located(Glob("off"))]
        spec.migration.mode = .paused
        r = Fx.place(spec, hosts)
        XCTAssertEqual(
            r.skipped.map { "\($0.guest):\($0.why)" },
            ["crashed:stopped", "off:stopped", "paused:excluded", "tmp-1:excluded", "tr:transient"])
        XCTAssertEqual(r.placements.map { "\($0.guest):\($0.mode.rawValue)" }, ["run:paused"])
    }

    func testOfflineModeRefusesRunningGuests() {
        var spec = Fx.plan(sources: ["s"], targets: ["t"])
        spec.migration.mode = .offline
        let r = Fx.place(
            spec,
            [
                Fx.host("s", gib: 64, guests: [Fx.vm("run", gib: 1), Fx.vm("off", gib: 1, state: .shutoff)]),
                Fx.host("t", gib: 64),
            ])
        XCTAssertEqual(r.placements.map(\.guest), ["off"])
        XCTAssertEqual(
            r.unplaceable.first?.guestReason,
            "is running and migration.mode is offline; shut it down first or use live or paused")
        XCTAssertEqual(r.unplaceable.first?.candidates, [])
    }

    /// Devices that cannot move live, as libvirt, QEMU or the seed systems refuse them: a
    /// running guest is refused with the device named; shut off, its definition moves.
    func testFilesystemPassthroughVhostUserAndUserModeNICs() {
        var fs = Fx.vm("fs", gib: 1)
        fs.filesystems = ["/srv/share → share (virtiofs)"]
        var fsOff = Fx.vm("fs-off", gib: 1, state: .shutoff)
        fsOff.filesystems = fs.filesystems
        var ninep = Fx.vm("ninep", gib: 1)
        ninep.filesystems = ["/srv/share → share0 (9p)"]
        let spdk = Fx.vm(
            "spdk", gib: 1, disks: [GuestDisk(kind: .other, target: "vda", source: "vhostuser", shared: false)])
        let nvme = Fx.vm("nvme", gib: 1, disks: [GuestDisk(kind: .other, target: "vda", source: "nvme", shared: false)])
        let guests = [
            fs, fsOff,
            Fx.vm("nat", gib: 1, nics: [GuestNIC(kind: .user, source: "", mac: "52:54:00:aa:00:01")]),
            Fx.vm("dpdk", gib: 1, nics: [GuestNIC(kind: .other, source: "vhostuser")]),
            Fx.vm("direct", gib: 1, nics: [GuestNIC(kind: .direct, source: "eth1")]),
            ninep, spdk, nvme,
        ]
        let r = Fx.place(
            Fx.plan(sources: ["s"], targets: ["t"]), [Fx.host("s", gib: 64, guests: guests), Fx.host("t", gib: 64)])
        let reasons = Dictionary(uniqueKeysWithValues: r.unplaceable.map { ($0.guest, $0.guestReason ?? "") })
        XCTAssertEqual(
            reasons["fs"],
            "has filesystem passthrough /srv/share → share (virtiofs), which libvirt refuses to migrate (\"non-migratable device: …/vhost-user-fs\"); detach it, or shut the guest down to move its definition"
        )
        XCTAssertEqual(
            reasons["ninep"],
            "has filesystem passthrough /srv/share → share0 (9p): QEMU refuses to migrate while the guest has it mounted (\"Migration is disabled when VirtFS export path … is mounted in the guest\"), which evac cannot see from the host; detach it, or shut the guest down to move its definition (evac policy; waive with constraints.allow: [unmounted-9p])"
        )
        XCTAssertEqual(
            reasons["spdk"],
            "has a vhost-user disk vda, served by a backend process on the source host, which libvirt cannot copy (\"cannot precreate storage for disk type 'vhostuser'\"); detach it, or shut the guest down to move its definition"
        )
        XCTAssertEqual(
            reasons["nvme"],
            "has NVMe disk vda, a PCI device of the source host given to the guest; detach it, or shut the guest down to move its definition"
        )
        XCTAssertEqual(
            reasons["nat"],
            "has a user-mode (NAT) NIC 52:54:00:aa:00:01, whose host side is the source's QEMU: QEMU migrates only the NAT's DHCP leases, so the guest's connections through it drop and forwarded host ports open on the target host's address instead; detach it, or shut the guest down to move its definition (evac policy; waive with constraints.allow: [user-mode-nic])"
        )
        XCTAssertEqual(
            reasons["dpdk"],
            "has a vhost-user NIC, whose backend process runs on the source host only; detach it, or shut the guest down to move its definition"
        )
        XCTAssertEqual(Set(r.placements.map(\.guest)), ["fs-off", "direct"])
    }

    func testHostDevicesAndLocalDisks() {
        var spec = Fx.plan(sources: ["s"], targets: ["t"])
        let local = GuestDisk(kind: .file, target: "vda", source: "/var/lib/libvirt/images/db.qcow2", shared: false)
        let shared = GuestDisk(kind: .network, target: "vdb", source: "rbd:vms/db", shared: true)
        let guests = [
            Fx.vm("gpu", gib: 1, hostDevices: ["pci:0000:03:00.0"]),
            Fx.vm("gpu-off", gib: 1, state: .shutoff, hostDevices: ["pci:0000:03:00.0"]),
            Fx.vm("db", gib: 1, disks: [local, shared]),
        ]
        var target = Fx.host("t", gib: 64)
        target.storagePools = [
            StoragePoolInfo(name: "default", type: "dir", targetPath: "/var/lib/libvirt/images", shared: false)
        ]
        let hosts = [Fx.host("s", gib: 64, guests: guests), target]
        var r = Fx.place(spec, hosts)
        XCTAssertEqual(
            r.unplaceable.map(\.guestReason),
            [
                "local disk vda (/var/lib/libvirt/images/db.qcow2) is not on shared storage; set constraints.local-storage: copy to copy it with the migration",
                "has host device pci:0000:03:00.0, which cannot move live; detach it, or shut the guest down to move its definition",
            ])
        XCTAssertEqual(r.placements.map(\.guest), ["gpu-off"], "a shut-off guest moves as a definition")
        spec.constraints.localStorage = .copy
        r = Fx.place(spec, hosts)
        XCTAssertEqual(r.placements.first { $0.guest == "db" }?.copyStorage, ["vda"])
    }

    func testPlanOrder() {
        var spec = Fx.plan(sources: ["s2", "s1"], targets: ["t"])
        let hosts = [
            Fx.host("s1", gib: 64, guests: [Fx.vm("b", gib: 4), Fx.vm("a", gib: 1)]),
            Fx.host("s2", gib: 64, guests: [Fx.vm("d", gib: 2), Fx.vm("c", gib: 4)]), Fx.host("t", gib: 64),
        ]
        XCTAssertEqual(Fx.place(spec, hosts).placements.map(\.guest), ["b", "c", "d", "a"])
        spec.placement.order = .smallestFirst
        XCTAssertEqual(Fx.place(spec, hosts).placements.map(\.guest), ["a", "d", "b", "c"])
        spec.placement.order = .asListed
        XCTAssertEqual(Fx.place(spec, hosts).placements.map(\.guest), ["c", "d", "a", "b"])
    }

    func testMissingSourceIsSkippedQuietly() {
        let r = Fx.place(
            Fx.plan(sources: ["ghost", "s"], targets: ["t"]),
            [Fx.host("s", gib: 64, guests: [Fx.vm("g", gib: 1)]), Fx.host("t", gib: 64)])
        XCTAssertEqual(r.placements.map(\.guest), ["g"])
    }

    func testDeterministic() throws {
        let (spec, inv) = EvacBenchFleets.scale()
        let a = Placer.place(spec: spec, inventory: inv)
        let b = Placer.place(spec: spec, inventory: inv)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        XCTAssertEqual(try enc.encode(a), try enc.encode(b))
        XCTAssertFalse(a.placements.isEmpty)
    }

    /// Every guest of the sources is accounted for exactly once, and every unplaceable guest
    /// without a guest-level reason is refused once by every target: the tallies add up to the
    /// targets, and the listed rejections are the first of each filter by target name.
    func testEveryGuestAccountedFor() {
        let (spec, inv) = EvacBenchFleets.scale()
        let r = Placer.place(spec: spec, inventory: inv)
        let all = inv.hosts.filter { spec.sourceNames.contains($0.name) }.flatMap(\.guests).map(\.uuid)
        let seen = r.placements.map(\.uuid) + r.unplaceable.map(\.uuid) + r.skipped.map(\.uuid)
        XCTAssertEqual(seen.sorted(), all.sorted())
        let targets = spec.targetNames.sorted()
        for u in r.unplaceable where u.guestReason == nil {
            XCTAssertEqual(u.refusals.reduce(0) { $0 + $1.targets }, targets.count, u.guest)
            XCTAssertEqual(u.candidates.map(\.target), u.candidates.map(\.target).sorted(), u.guest)
            for t in u.refusals {
                let listed = u.candidates.filter { $0.filter == t.filter }.count
                XCTAssertEqual(listed, min(t.targets, Unplaceable.listedPerFilter), "\(u.guest) \(t.filter)")
            }
        }
        XCTAssertEqual(r.targets.map(\.host), spec.targetNames.sorted())
    }
}

/// The tally of an unplaceable guest's refusals (a pool of thousands must not list thousands).
final class UnplaceableTallyTests: XCTestCase {
    private func rejections(_ n: Int, _ filter: PlacementFilter) -> [Rejection] {
        (0..<n).map { Rejection(target: "t\(1000 + $0)", filter: filter, reason: "\(filter) says no") }
    }

    func testEachFilterIsCountedAndListedUpToItsLimit() {
        let all = (rejections(20, .memory) + rejections(3, .bridge)).sorted { $0.target < $1.target }
        let u = Unplaceable(
            guest: "g", uuid: "u", source: "s", memoryKiB: 1, vcpus: 1, guestReason: nil, candidates: all)
        XCTAssertEqual(u.refusals, [.init(filter: .memory, targets: 20), .init(filter: .bridge, targets: 3)])
        XCTAssertEqual(u.candidates.filter { $0.filter == .memory }.count, Unplaceable.listedPerFilter)
        XCTAssertEqual(u.candidates.filter { $0.filter == .bridge }.count, 3)
        XCTAssertEqual(u.unlisted, [.init(filter: .memory, targets: 20 - Unplaceable.listedPerFilter)])
        XCTAssertTrue(u.why.hasPrefix("memory on 20 targets (t1000: memory says no); bridge on 3 targets"), u.why)
    }

    func testASmallPoolListsEveryCandidate() {
        let all = rejections(2, .memory)
        let u = Unplaceable(
            guest: "g", uuid: "u", source: "s", memoryKiB: 1, vcpus: 1, guestReason: nil, candidates: all)
        XCTAssertEqual(u.candidates, all)
        XCTAssertEqual(u.unlisted, [])
        XCTAssertEqual(u.why, "t1000: memory says no; t1001: memory says no")
    }

    /// A plan file written before the tally lists every candidate and has no `refusals`: they
    /// are counted, and it encodes as it was read (the fuzz seeds, plan files of 1dd6d49, were
    /// refused as modified when decoding added the tally).
    func testAnOlderPlanFilesCandidatesAreCounted() throws {
        let json =
            #"{"guest":"g","uuid":"u","source":"s","memoryKiB":1,"vcpus":1,"candidates":["#
            + #"{"target":"a","filter":"memory","reason":"r"},{"target":"b","filter":"bridge","reason":"r"}]}"#
        let u = try JSONDecoder().decode(Unplaceable.self, from: Data(json.utf8))
        XCTAssertEqual(u.refusals, [.init(filter: .bridge, targets: 1), .init(filter: .memory, targets: 1)])
        XCTAssertEqual(u.candidates.count, 2)
        // Encoded as it was read: the plan file's seal is a hash of the re-encoded value.
        let again = String(decoding: try JSONEncoder().encode(u), as: UTF8.self)
        XCTAssertFalse(again.contains("refusals"), again)
    }
}
