import Testing

@testable import EvacCore

/// Storage copy and snapshots: libvirt's rules (qemuMigrationDstPrecreateDisk,
/// qemuMigrationSrcIsAllowed), judged from the inventory.
struct StorageCopyFilterTests {
    static let gib: UInt64 = 1 << 30
    static let dir = "/var/lib/libvirt/images"

    static func disk(
        _ target: String = "vda", file: String = "\(dir)/a.img", format: String = "raw", capacity: UInt64 = 8 << 30,
        allocation: UInt64 = 1 << 30, chain: [String]? = nil, readonly: Bool = false
    ) -> GuestDisk {
        GuestDisk(
            kind: .file, target: target, source: file, shared: false, readonly: readonly, format: format,
            capacityBytes: capacity, allocationBytes: allocation, backingChain: chain)
    }

    static func pool(
        _ name: String = "default", path: String = dir, active: Bool = true, free: UInt64?
    )
        -> StoragePoolInfo
    {
        StoragePoolInfo(name: name, type: "dir", targetPath: path, shared: false, active: active, availableBytes: free)
    }

    static func target(_ name: String, pools: [StoragePoolInfo]) -> HostInventory {
        var h = Fx.host(name, gib: 64)
        h.storagePools = pools
        return h
    }

    static func copyPlan(targets: [String]) -> PlanSpec {
        var spec = Fx.plan(sources: ["s"], targets: targets)
        spec.constraints.localStorage = .copy
        return spec
    }

    static func source(_ guests: [Guest]) -> HostInventory {
        var s = Fx.host("s", gib: 64, guests: guests)
        s.storagePools = [pool(free: 100 * gib)]
        return s
    }

    @Test func aCopiedDiskNeedsAnActivePoolAtItsDirectory() {
        let guest = Fx.vm("a", gib: 1, disks: [Self.disk()])
        let none = Self.target("none", pools: [Self.pool(path: "/srv/other", free: 100 * Self.gib)])
        let parent = Self.target("parent", pools: [Self.pool(path: "/var/lib/libvirt", free: 100 * Self.gib)])
        let stopped = Self.target("stopped", pools: [Self.pool(active: false, free: nil)])
        let ready = Self.target("ready", pools: [Self.pool(path: Self.dir + "/", free: 100 * Self.gib)])
        let r = Fx.place(
            Self.copyPlan(targets: ["none", "parent", "stopped"]), [Self.source([guest]), none, parent, stopped])
        let missing =
            "no storage pool at /var/lib/libvirt/images for disk vda: libvirt pre-creates a copied disk only in an active pool at /var/lib/libvirt/images"
        #expect(Fx.rejection(r, "a", "none") == Rejection(target: "none", filter: .storageCopy, reason: missing))
        #expect(
            Fx.rejection(r, "a", "parent")?.reason == missing.replacingOccurrences(of: "none", with: "parent"),
            "a pool at a parent directory is not the one libvirt looks up")
        #expect(
            Fx.rejection(r, "a", "stopped")
                == Rejection(
                    target: "stopped", filter: .storageCopy,
                    reason:
                        "storage pool default at /var/lib/libvirt/images is inactive (disk vda is pre-created in it)"))
        let ok = Fx.place(Self.copyPlan(targets: ["ready"]), [Self.source([guest]), ready])
        #expect(Fx.target(ok, "a") == "ready", "a trailing slash in the pool's path is the same directory")
        #expect(ok.placements.first?.copyStorage == ["vda"])
    }

    /// A raw image is pre-allocated to its virtual size; the pool's free space is shared by
    /// every guest planned into it.
    @Test func thePoolMustHaveRoomForEveryPlannedCopy() {
        let a = Fx.vm("a", gib: 1, disks: [Self.disk(file: "\(Self.dir)/a.img")])
        let b = Fx.vm("b", gib: 1, disks: [Self.disk(file: "\(Self.dir)/b.img")])
        let small = Self.target("small", pools: [Self.pool(free: 12 * Self.gib)])
        let r = Fx.place(Self.copyPlan(targets: ["small"]), [Self.source([a, b]), small])
        #expect(r.placements.count == 1)
        let left = r.unplaceable.first?.guest ?? "?"
        #expect(
            Fx.rejection(r, left, "small")
                == Rejection(
                    target: "small", filter: .storageCopy,
                    reason:
                        "storage pool default at /var/lib/libvirt/images has 12.0 GiB free, 8.0 GiB of it planned for other guests; disk vda needs 8.0 GiB"
                ))
        let tiny = Self.target("tiny", pools: [Self.pool(free: 4 * Self.gib)])
        let alone = Fx.place(Self.copyPlan(targets: ["tiny"]), [Self.source([a]), tiny])
        #expect(
            Fx.rejection(alone, "a", "tiny")?.reason
                == "storage pool default at /var/lib/libvirt/images has 4.0 GiB free; disk vda needs 8.0 GiB")
        let unknown = Self.target("unknown", pools: [Self.pool(free: nil)])
        #expect(
            Fx.target(Fx.place(Self.copyPlan(targets: ["unknown"]), [Self.source([a, b]), unknown]), "b") == "unknown",
            "a pool whose free space is unknown is not judged")
    }

    /// libvirt pre-creates a copied qcow2 image allocated in full (preallocation=falloc), so a
    /// qcow2 disk needs its whole virtual size and the metadata whatever it holds, chain or
    /// not. (Counting the source's allocation, evac placed an 8 MiB-full 64 MiB image into a
    /// 32 MiB pool on the lab, and libvirt failed the pre-creation.)
    @Test func qcow2NeedsItsFullyAllocatedSizeWithOrWithoutAChain() {
        let thin = Self.disk(format: "qcow2", capacity: 8 << 30, allocation: 1 << 30)
        let chained = Self.disk(format: "qcow2", capacity: 8 << 30, allocation: 1 << 30, chain: ["/images/base.qcow2"])
        let full = QCOW2Size.preallocated(virtual: 8 << 30)
        #expect(CopyNeed.bytes(thin) == full)
        #expect(CopyNeed.bytes(chained) == full)
        #expect((full ?? 0) > 8 << 30, "the metadata counts too")
        #expect(CopyNeed.bytes(Self.disk(capacity: 8 << 30, allocation: 1 << 30)) == 8 << 30)
        #expect(CopyNeed.bytes(Self.disk(format: "qcow2", capacity: 1 << 62)) == .max, "beyond any pool: never fits")
        let pool = Self.target("t", pools: [Self.pool(free: 2 * Self.gib)])
        let small = Self.disk(format: "qcow2", capacity: 1 << 30, allocation: 64 << 20)
        let r = Fx.place(
            Self.copyPlan(targets: ["t"]),
            [
                Self.source([
                    Fx.vm("thin", gib: 1, disks: [thin]), Fx.vm("chained", gib: 1, disks: [chained]),
                    Fx.vm("small", gib: 1, disks: [small]),
                ]), pool,
            ])
        let why = Fx.rejection(r, "thin", "t")?.reason ?? ""
        #expect(why.hasPrefix("storage pool default at /var/lib/libvirt/images has 2.0 GiB free"), "\(why)")
        #expect(why.hasSuffix("disk vda needs 8.0 GiB"), "\(why)")
        #expect(Fx.rejection(r, "chained", "t")?.filter == .storageCopy)
        #expect(Fx.target(r, "small") == "t")
    }

    /// qemu-img's "fully allocated size" (`qemu-img measure -O qcow2 --size S`, QEMU 7.2) for
    /// the sizes of the table: the lab's 64 MiB image took exactly the first.
    @Test(arguments: [
        (UInt64(64) << 20, UInt64(67_436_544)), (1 << 30, 1_074_135_040), (100 << 30, 107_390_828_544),
        (1000 << 30, 1_073_905_926_144), (3 << 40, 3_299_038_461_952), (1_234_567 << 10, 1_264_713_728),
    ])
    func qcow2FullyAllocatedSizeIsQemuImgs(virtual: UInt64, measured: UInt64) {
        #expect(QCOW2Size.preallocated(virtual: virtual) == measured)
    }

    /// libvirt refuses to copy a read-only disk ("Cannot migrate empty or read-only disk"): an
    /// ISO is left out of the copied disks (it must be at the same path on the target).
    @Test func readOnlyLocalDisksAreNotCopied() {
        let iso = Self.disk("hdc", file: "/srv/iso/install.iso", readonly: true)
        let guest = Fx.vm("a", gib: 1, disks: [Self.disk(), iso])
        let t = Self.target("t", pools: [Self.pool(free: 100 * Self.gib)])
        let r = Fx.place(Self.copyPlan(targets: ["t"]), [Self.source([guest]), t])
        #expect(Fx.target(r, "a") == "t")
        #expect(r.placements.first?.copyStorage == ["vda"])
    }

    /// qemuMigrationSrcIsAllowed refuses any remote migration of a domain with snapshots,
    /// live or offline.
    @Test func guestsWithSnapshotsAreRefused() {
        var on = Fx.vm("on", gib: 1)
        on.snapshots = 1
        var off = Fx.vm("off", gib: 1, state: .shutoff)
        off.snapshots = 3
        let r = Fx.place(Fx.plan(sources: ["s"], targets: ["t"]), [Self.source([on, off]), Fx.host("t", gib: 64)])
        #expect(r.placements.isEmpty)
        #expect(
            r.unplaceable.first { $0.guest == "on" }?.guestReason
                == "has 1 snapshot: libvirt refuses to migrate a guest with snapshots (\"cannot migrate domain with 1 snapshots\"); delete them first (virsh snapshot-delete; commit external ones with virsh blockcommit), or exclude the guest"
        )
        #expect(r.unplaceable.first { $0.guest == "off" }?.guestReason?.hasPrefix("has 3 snapshots") == true)
    }

    /// The pre-check's live side: the same rules on the target as it is now.
    @Test func thePreCheckJudgesTheLiveTarget() {
        var guest = Fx.vm("a", gib: 1, disks: [Self.disk()])
        let full = Self.target("full", pools: [Self.pool(free: 1 * Self.gib)])
        #expect(LiveFilters.storageCopyRoom(guest: guest, target: full)?.filter == .storageCopy)
        #expect(
            LiveFilters.storageCopyRoom(guest: guest, target: Self.target("ok", pools: [Self.pool(free: 9 * Self.gib)]))
                == nil)
        let bare = Self.target("bare", pools: [])
        let r = LiveFilters.rejection(
            guest: guest, sourcePools: [Self.pool(free: nil)], sourceHypervisorVersion: nil, target: bare,
            bridges: .ignore, bridgeMap: [:])
        #expect(r?.filter == .storageCopy)
        #expect(LiveFilters.guestRefusal(guest) == nil)
        guest.snapshots = 2
        #expect(LiveFilters.guestRefusal(guest)?.hasPrefix("has 2 snapshots") == true)
    }
}

/// Disk formats: libvirt pre-creates a copied disk in the source's format, which the target
/// pool's type must offer (its storage pool capabilities).
struct DiskFormatFilterTests {
    typealias S = StorageCopyFilterTests

    static func typed(_ name: String, type: String, formats: [String]?) -> StoragePoolInfo {
        var p = S.pool(name, free: 100 * S.gib)
        p.type = type
        p.volumeFormats = formats
        return p
    }

    /// `guest`'s rejection by a lone target with one pool of `type` (nil when it is placed there).
    static func judged(_ guest: Guest, type: String, formats: [String]?) -> Rejection? {
        let t = S.target("t", pools: [Self.typed("default", type: type, formats: formats)])
        let r = Fx.place(S.copyPlan(targets: ["t"]), [S.source([guest]), t])
        #expect(r.placements.isEmpty != (Fx.rejection(r, guest.name, "t") == nil))
        return Fx.rejection(r, guest.name, "t")
    }

    @Test func aCopiedDiskNeedsItsFormatInTheTargetPoolsType() {
        let qcow2 = Fx.vm("q", gib: 1, disks: [S.disk(format: "qcow2")])
        let raw = Fx.vm("r", gib: 1, disks: [S.disk("vdb", file: S.dir + "/r.img")])
        #expect(Self.judged(qcow2, type: "dir", formats: ["bochs", "qcow2", "raw", "vmdk"]) == nil)
        #expect(Self.judged(qcow2, type: "dir", formats: nil) == nil, "formats unknown: not judged")
        #expect(
            Self.judged(qcow2, type: "logical", formats: [])
                == Rejection(
                    target: "t", filter: .diskFormat,
                    reason:
                        "storage pool default at /var/lib/libvirt/images (type logical) cannot hold disk vda's qcow2 image: libvirt creates raw data only there"
                ))
        #expect(
            Self.judged(qcow2, type: "disk", formats: ["fat16", "linux"])?.reason
                == "storage pool default at /var/lib/libvirt/images (type disk) cannot hold disk vda's qcow2 image: libvirt creates fat16, linux there"
        )
        #expect(Self.judged(raw, type: "logical", formats: []) == nil, "raw data fits a logical volume")
        #expect(
            Self.judged(raw, type: "disk", formats: ["fat16", "linux"])?.filter == .diskFormat,
            "a disk pool has partition types only")
        #expect(
            Self.judged(raw, type: "iscsi", formats: [])
                == Rejection(
                    target: "t", filter: .storageCopy,
                    reason:
                        "storage pool default at /var/lib/libvirt/images is of type iscsi, in which libvirt creates no volumes (disk vdb would be pre-created in it)"
                ))
    }

    /// The pre-check runs the same filter against the live target.
    @Test func thePreCheckJudgesFormatsToo() {
        let qcow2 = Fx.vm("q", gib: 1, disks: [S.disk(format: "qcow2")])
        let lvm = S.target("lvm", pools: [Self.typed("default", type: "logical", formats: [])])
        let r = LiveFilters.rejection(
            guest: qcow2, sourcePools: [], sourceHypervisorVersion: nil, target: lvm, bridges: .ignore, bridgeMap: [:])
        #expect(r?.filter == .diskFormat)
    }
}
