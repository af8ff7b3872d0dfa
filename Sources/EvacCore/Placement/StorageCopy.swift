/// Storage copy (`VIR_MIGRATE_NON_SHARED_DISK`): what the target needs for each local disk the
/// migration copies. The rule is libvirt's own (qemuMigrationDstPrepareStorage and
/// qemuMigrationDstPrecreateDisk): a disk whose file is missing on the target is pre-created
/// there, a file disk in the active pool whose target path is exactly the disk's directory
/// (virStoragePoolLookupByTargetPath), a volume disk in the pool of its name; the new image has
/// the source's format and virtual size, allocated in full (raw and qcow2 alike; a full copy
/// flattens a qcow2 backing chain into it: the target's image has no backing file).
/// Network disks are not copied; block devices cannot be pre-created.

/// One local disk a storage copy moves, and where libvirt pre-creates it on the target.
struct CopyNeed: Hashable, Comparable {
    enum Place: Hashable, Comparable {
        /// A file disk: an active pool whose target path is this directory.
        case directory(String)
        /// A `<source pool=… volume=…>` disk: an active pool of this name.
        case pool(String)
    }
    /// The disk's target device in the guest (vda, …).
    var disk: String
    var place: Place
    /// The image format libvirt pre-creates the copy in: the source disk's (raw when unstated).
    var format: String = "raw"

    static func < (a: Self, b: Self) -> Bool { (a.place, a.disk) < (b.place, b.disk) }

    /// The disks of `guest` a storage copy moves: local (not shared), with a source, writable
    /// (libvirt refuses to copy a read-only disk: "Cannot migrate empty or read-only disk").
    static func copied(_ guest: Guest) -> [GuestDisk] {
        guest.disks.filter { !$0.shared && !$0.readonly && !$0.source.isEmpty }
    }

    /// Where each copied disk of `guest` goes; block and other disks have no pool rule.
    static func of(_ guest: Guest) -> [CopyNeed] {
        copied(guest).compactMap { d in
            place(of: d).map { CopyNeed(disk: d.target, place: $0, format: d.format ?? "raw") }
        }
        .sorted()
    }

    static func place(of d: GuestDisk) -> Place? {
        switch d.kind {
        case .file:
            // libvirt cuts the path at its last '/' and looks the directory up as given.
            guard let slash = d.source.lastIndex(of: "/") else { return nil }
            let dir = String(d.source[..<slash])
            return .directory(StorageNeed.trimmed(dir.isEmpty ? "/" : dir))
        case .volume: return .pool(String(d.source.prefix { $0 != "/" }))
        case .block, .network, .other: return nil
        }
    }

    /// Bytes the copy needs in the target's pool, all of it taken when libvirt pre-creates the
    /// image (before anything is copied): a raw image is allocated to its virtual size, a qcow2
    /// one in full too, with its metadata (QCOW2Size: libvirt asks qemu-img for
    /// preallocation=falloc), whatever the source's allocation and whether or not a backing
    /// chain is flattened into it. Other formats are counted at their virtual size. nil when
    /// unknown.
    static func bytes(_ d: GuestDisk) -> UInt64? {
        guard let capacity = d.capacityBytes else { return nil }
        return d.format == "qcow2" ? QCOW2Size.preallocated(virtual: capacity) ?? .max : capacity
    }
}

/// A pool of a target as the storage-copy filter sees it (sorted by path, then name).
struct CopyPool: Hashable, Comparable {
    var name: String
    var path: String?
    /// nil when the inventory did not say (judged as active).
    var active: Bool?
    var type: String = ""
    /// The volume formats libvirt creates in it (storage pool capabilities); nil when unknown.
    var formats: [String]? = nil

    static func < (a: Self, b: Self) -> Bool { (a.path ?? "", a.name) < (b.path ?? "", b.name) }

    static func of(_ host: HostInventory) -> [CopyPool] {
        host.storagePools.map {
            CopyPool(
                name: $0.name, path: $0.targetPath.map(StorageNeed.trimmed), active: $0.active, type: $0.type,
                formats: $0.volumeFormats)
        }
        .sorted()
    }

    /// Pool types whose backend cannot create volumes (libvirt: "storage pool does not support
    /// volume creation"): a copied disk cannot be pre-created in them.
    static let noVolumeCreation: Set<String> = ["iscsi", "iscsi-direct", "scsi", "mpath"]

    /// The pool libvirt would pre-create a disk in for `place`, among `pools`. When several
    /// have the path, an active one (libvirt only looks among active pools).
    static func find(_ place: CopyNeed.Place, in pools: [CopyPool]) -> CopyPool? {
        let matching = pools.filter {
            switch place {
            case .directory(let dir): $0.path == dir
            case .pool(let name): $0.name == name
            }
        }
        return matching.first { $0.active != false } ?? matching.first
    }

    static func find(_ place: CopyNeed.Place, in pools: [StoragePoolInfo]) -> StoragePoolInfo? {
        let matching = pools.filter {
            switch place {
            case .directory(let dir): $0.targetPath.map(StorageNeed.trimmed) == dir
            case .pool(let name): $0.name == name
            }
        }
        return matching.first { $0.active != false } ?? matching.first
    }
}

extension CopyNeed.Place: CustomStringConvertible {
    var description: String {
        switch self {
        case .directory(let dir): "at \(dir)"
        case .pool(let name): "named \(name)"
        }
    }
}

extension StaticFilters {
    /// Storage copy, static part: every copied disk has an active pool on the target where
    /// libvirt pre-creates it. Without one libvirt fails the migration ("no storage pool with
    /// matching target path …") unless the image was put there by hand.
    static func storageCopy(_ n: GuestNeeds, _ p: TargetProfile, target: String) -> Rejection? {
        for need in n.copies {
            guard let pool = CopyPool.find(need.place, in: p.copyPools) else {
                return Rejection(
                    target: target, filter: .storageCopy,
                    reason:
                        "no storage pool \(need.place) for disk \(need.disk): libvirt pre-creates a copied disk only in an active pool \(need.place)"
                )
            }
            if pool.active == false {
                return Rejection(
                    target: target, filter: .storageCopy,
                    reason:
                        "storage pool \(pool.name) \(need.place) is inactive (disk \(need.disk) is pre-created in it)")
            }
            if CopyPool.noVolumeCreation.contains(pool.type) {
                return Rejection(
                    target: target, filter: .storageCopy,
                    reason:
                        "storage pool \(pool.name) \(need.place) is of type \(pool.type), in which libvirt creates no volumes (disk \(need.disk) would be pre-created in it)"
                )
            }
        }
        return nil
    }

    /// Disk formats: libvirt pre-creates each copied disk in the source's format, which the
    /// target pool's type must offer (the target's storage pool capabilities, e.g. a logical
    /// or disk pool has no qcow2 volumes). A pool whose formats are unknown is not judged.
    static func diskFormat(_ n: GuestNeeds, _ p: TargetProfile, target: String) -> Rejection? {
        for need in n.copies {
            guard let pool = CopyPool.find(need.place, in: p.copyPools), let formats = pool.formats else { continue }
            if formats.isEmpty ? need.format != "raw" : !formats.contains(need.format) {
                let offers = formats.isEmpty ? "raw data only" : formats.joined(separator: ", ")
                return Rejection(
                    target: target, filter: .diskFormat,
                    reason:
                        "storage pool \(pool.name) \(need.place) (type \(pool.type)) cannot hold disk \(need.disk)'s \(need.format) image: libvirt creates \(offers) there"
                )
            }
        }
        return nil
    }
}

/// A copied disk of a mover with its size, for the room check.
struct CopyLoad: Hashable {
    var disk: String
    var place: CopyNeed.Place
    /// nil when the size is unknown (not judged).
    var bytes: UInt64?

    static func of(_ guest: Guest) -> [CopyLoad] {
        CopyNeed.copied(guest).compactMap { d in
            CopyNeed.place(of: d).map { CopyLoad(disk: d.target, place: $0, bytes: CopyNeed.bytes(d)) }
        }
    }
}

extension FleetState {
    /// Storage copy, room: the target's pool has the free space for this guest's copied disks
    /// on top of those of the guests already planned into it. A pool whose free space is
    /// unknown is not judged.
    func storageCopyRoom(_ m: Int, _ t: Int) -> Rejection? {
        let mine = copyLoads[m]
        guard !mine.isEmpty else { return nil }
        let pools = hosts[t].storagePools
        var needed: [String: UInt64] = [:]
        for load in mine {
            guard let bytes = load.bytes, let pool = CopyPool.find(load.place, in: pools),
                let free = pool.availableBytes
            else { continue }
            let planned = plannedCopyBytes(into: pool, on: t, except: m)
            let (sum, o1) = needed[pool.name, default: 0].addingReportingOverflow(bytes)
            needed[pool.name] = o1 ? .max : sum
            let (total, o2) = planned.addingReportingOverflow(needed[pool.name] ?? 0)
            if o2 || total > free {
                let others = planned == 0 ? "" : ", \(Format.bytes(Double(planned))) of it planned for other guests"
                return Rejection(
                    target: names[t], filter: .storageCopy,
                    reason:
                        "storage pool \(pool.name) \(load.place) has \(Format.bytes(Double(free))) free\(others); disk \(load.disk) needs \(Format.bytes(Double(bytes)))"
                )
            }
        }
        return nil
    }

    /// Bytes the movers planned onto `t` (other than `m`) copy into `pool`.
    private func plannedCopyBytes(into pool: StoragePoolInfo, on t: Int, except m: Int) -> UInt64 {
        var sum: UInt64 = 0
        for o in incoming[t] where o != m {
            for load in copyLoads[o] {
                guard let b = load.bytes, CopyPool.find(load.place, in: hosts[t].storagePools)?.name == pool.name
                else { continue }
                sum = sum.addingReportingOverflow(b).overflow ? .max : sum + b
            }
        }
        return sum
    }
}

/// Snapshots: libvirt refuses to migrate a domain that has any, live or offline
/// (qemuMigrationSrcIsAllowed: "cannot migrate domain with N snapshots"); Virtuozzo and
/// VMmanager ask for them to be deleted before a move too.
enum SnapshotRule {
    static func refusal(_ g: Guest) -> String? {
        guard let n = g.snapshots, n > 0 else { return nil }
        return
            "has \(n) snapshot\(n == 1 ? "" : "s"): libvirt refuses to migrate a guest with snapshots (\"cannot migrate domain with \(n) snapshots\"); delete them first (virsh snapshot-delete; commit external ones with virsh blockcommit), or exclude the guest"
    }
}
