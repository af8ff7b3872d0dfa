/// What libvirt says about the hosts a plan touches: the input of placement.
/// Saved as JSON (schemas/inventory.schema.json); field order and sorting are fixed so that the
/// same world always gives the same bytes.
public struct Inventory: Codable, Hashable, Sendable {
    /// 1: the only inventory format so far (schemas/inventory.schema.json).
    public var formatVersion: Int
    /// Hosts that answered, sorted by name.
    public var hosts: [HostInventory]
    /// Hosts that could not be read (targets are left out with a warning).
    public var unreachable: [UnreachableHost]

    /// An inventory of `hosts` (sorted by name if they are not) and the hosts that did not answer.
    public init(hosts: [HostInventory], unreachable: [UnreachableHost] = []) {
        self.formatVersion = 1
        // Usually sorted already (a snapshot, re-sorted after hosts were added): sorting 10,000
        // host values again costs more than checking.
        self.hosts =
            zip(hosts, hosts.dropFirst()).allSatisfy { $0.name <= $1.name } ? hosts : hosts.sorted { $0.name < $1.name }
        self.unreachable = unreachable.sorted { $0.name < $1.name }
    }

    /// The host with this name. Hosts are sorted by name (the initialiser sorts them, and the
    /// CLI re-sorts a decoded snapshot), so a binary search finds it; a decoded inventory that is
    /// not sorted falls back to a scan when the search misses.
    public func host(named name: String) -> HostInventory? {
        var lo = 0
        var hi = hosts.count
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            if hosts[mid].name < name { lo = mid + 1 } else { hi = mid }
        }
        if lo < hosts.count, hosts[lo].name == name { return hosts[lo] }
        return hosts.first { $0.name == name }
    }
}

/// A host the inventory could not read, and why: placement leaves it out as a target.
public struct UnreachableHost: Codable, Hashable, Sendable {
    /// The plan's name for the host.
    public var name: String
    /// The URI it was tried at.
    public var uri: String
    /// libvirt's error (or the deadline that passed), for the report.
    public var error: String
    /// A host `name` at `uri` that failed with `error`.
    public init(name: String, uri: String, error: String) {
        self.name = name
        self.uri = uri
        self.error = error
    }
}

/// One host as libvirt reported it: capacity, CPU, networks, storage and guests.
public struct HostInventory: Codable, Hashable, Sendable {
    /// The plan's name for the host (not the hostname libvirt reports).
    public var name: String
    /// The libvirt connection URI it was read through.
    public var uri: String
    /// libvirt's host UUID (capabilities), if reported.
    public var hostUUID: String?
    /// The hostname libvirt reports, if it does (shown next to the plan's name when they differ).
    public var hostname: String?
    /// The host's CPU architecture (`x86_64`, `aarch64`): a guest only moves to its own.
    public var arch: String
    /// Physical memory, KiB.
    public var memoryKiB: UInt64
    /// Free memory as libvirt reports it right now (moves with page cache; informational).
    public var freeMemoryKiB: UInt64
    /// Logical CPUs.
    public var cpus: Int
    /// The host CPU from libvirt's capabilities, for the CPU filters.
    public var cpu: HostCPU
    /// Names of bridges on the host: interfaces of type bridge and the bridges of libvirt networks.
    public var bridges: [String]
    /// libvirt networks defined on the host, sorted by name.
    public var networks: [NetworkInfo]
    /// Storage pools defined on the host, sorted by name.
    public var storagePools: [StoragePoolInfo]
    /// Every guest defined or running on the host, sorted by name and UUID.
    public var guests: [Guest]
    /// The daemon's libvirt version ("9.0.0") and its hypervisor's (QEMU's) version, as the
    /// host reports them; nil when unknown (and in inventories written before these fields).
    /// Not part of the fingerprint: an upgrade between plan and apply is caught by the
    /// pre-check, which runs the version filter on the live target.
    public var libvirtVersion: String?
    /// The QEMU version, as `libvirtVersion`.
    public var hypervisorVersion: String?
    /// Names of the network filters defined here (sorted); nil when unknown.
    public var nwfilters: [String]?
    /// Machine types the host's QEMU offers for its arch (capabilities), sorted; nil when unknown.
    public var machineTypes: [String]?
    /// CPU models the host's QEMU knows (domain capabilities, custom mode, usable here or not),
    /// sorted; nil when unknown (a driver without domain capabilities, older inventories).
    public var cpuModels: [String]?
    /// Whether the host's QEMU offers a host-model CPU (domain capabilities); nil when unknown.
    public var hostModelCPU: Bool?
    /// The domain types (`<domain type=…>`: kvm, qemu) the host offers for its arch
    /// (capabilities' `<guest><arch><domain type=…>`), each with what its QEMU offers under that
    /// type, sorted by type; nil when unknown (inventories written before this field: the
    /// virt-type filter then does not judge the host). `machineTypes`, `cpuModels` and
    /// `hostModelCPU` above are those of the host's default type (KVM where it has it).
    public var virtTypes: [VirtTypeOffer]?

    /// A host; the lists are sorted (and bridges deduplicated) so the same host gives the same bytes.
    public init(
        name: String, uri: String, hostUUID: String? = nil, hostname: String? = nil,
        arch: String = "x86_64", memoryKiB: UInt64, freeMemoryKiB: UInt64 = 0, cpus: Int,
        cpu: HostCPU, bridges: [String] = [], networks: [NetworkInfo] = [],
        storagePools: [StoragePoolInfo] = [], guests: [Guest] = []
    ) {
        self.name = name
        self.uri = uri
        self.hostUUID = hostUUID
        self.hostname = hostname
        self.arch = arch
        self.memoryKiB = memoryKiB
        self.freeMemoryKiB = freeMemoryKiB
        self.cpus = cpus
        self.cpu = cpu
        self.bridges = Array(Set(bridges)).sorted()
        self.networks = networks.sorted { $0.name < $1.name }
        self.storagePools = storagePools.sorted { $0.name < $1.name }
        self.guests = guests.sorted { ($0.name, $0.uuid) < ($1.name, $1.uuid) }
    }
}

/// What a host offers guests of one domain type on its arch: a TCG-only host (no /dev/kvm) has
/// `qemu` only, and a guest defined `type='kvm'` cannot start or arrive there ("Domain requires
/// KVM, but it is not available"). Machine types from the capabilities, CPU models from the
/// domain capabilities read for this type (virConnectGetDomainCapabilities' virttype).
public struct VirtTypeOffer: Codable, Hashable, Sendable {
    /// The domain type: kvm, qemu, …
    public var type: String
    /// Machine types offered under this type, sorted; nil when unknown.
    public var machineTypes: [String]?
    /// CPU models QEMU knows under this type (domain capabilities, custom mode), sorted; nil when unknown.
    public var cpuModels: [String]?
    /// Whether QEMU offers a host-model CPU under this type; nil when unknown.
    public var hostModelCPU: Bool?
    /// An offer of `type`; the lists are sorted.
    public init(type: String, machineTypes: [String]? = nil, cpuModels: [String]? = nil, hostModelCPU: Bool? = nil) {
        self.type = type
        self.machineTypes = machineTypes?.sorted()
        self.cpuModels = cpuModels?.sorted()
        self.hostModelCPU = hostModelCPU
    }
}

/// The host CPU as libvirt's capabilities describe it.
public struct HostCPU: Codable, Hashable, Sendable {
    /// "Intel", "AMD", … as libvirt's capabilities report it; empty when unknown.
    public var vendor: String
    /// The host CPU model libvirt names (`Icelake-Server`, …).
    public var model: String
    /// Feature names, sorted.
    public var features: [String]
    /// A CPU with `features` deduplicated and sorted.
    public init(vendor: String, model: String, features: [String]) {
        self.vendor = vendor
        self.model = model
        self.features = Array(Set(features)).sorted()
    }
}

/// A libvirt network on a host: a guest's `network` NIC needs one of the same name on its target.
public struct NetworkInfo: Codable, Hashable, Sendable {
    /// The network's name.
    public var name: String
    /// The bridge it puts guests on; nil for networks without one (e.g. macvtap).
    public var bridge: String?
    /// Whether it is started: a guest cannot start its NIC on an inactive network.
    public var active: Bool
    /// A network `name` on `bridge`.
    public init(name: String, bridge: String?, active: Bool) {
        self.name = name
        self.bridge = bridge
        self.active = active
    }
}

/// A libvirt storage pool on a host, for local-disk and storage-copy checks.
public struct StoragePoolInfo: Codable, Hashable, Sendable {
    /// The pool's name.
    public var name: String
    /// libvirt pool type: dir, fs, netfs, logical, iscsi, rbd, gluster, …
    public var type: String
    /// Where its volumes live on the host (`<target><path>`); nil for pools without a path.
    public var targetPath: String?
    /// Whether the pool's storage is reachable from other hosts (netfs, rbd, gluster, iscsi, …).
    public var shared: Bool
    /// Whether the pool is active (started); nil when unknown (inventories before this field).
    /// libvirt pre-creates a copied disk only in an active pool.
    public var active: Bool?
    /// Free bytes in the pool as libvirt last measured them (`<available>`); nil when unknown.
    /// Momentary: not in the fingerprint.
    public var availableBytes: UInt64?
    /// The volume formats libvirt creates in a pool of this type on this host (its storage pool
    /// capabilities, sorted; [] for a type without a format choice); nil when unknown.
    public var volumeFormats: [String]?
    /// A pool; `active`, `availableBytes` and `volumeFormats` nil when not read.
    public init(
        name: String, type: String, targetPath: String?, shared: Bool, active: Bool? = nil,
        availableBytes: UInt64? = nil, volumeFormats: [String]? = nil
    ) {
        self.name = name
        self.type = type
        self.targetPath = targetPath
        self.shared = shared
        self.active = active
        self.availableBytes = availableBytes
        self.volumeFormats = volumeFormats
    }
}

/// One guest (libvirt domain) as the inventory read it: what placement and the filters need.
public struct Guest: Codable, Hashable, Sendable {
    /// libvirt's domain state.
    public enum State: String, Codable, Sendable, CaseIterable {
        case running, blocked, paused, shutdown, shutoff, crashed, pmsuspended, unknown
        /// Whether the guest has a live QEMU process (moves live/paused; otherwise only its definition).
        public var isActive: Bool { self != .shutoff && self != .crashed && self != .unknown }
    }
    /// libvirt's UUID: the guest's identity for placement, the journal and resume.
    public var uuid: String
    /// The libvirt domain name.
    public var name: String
    /// Its state when read.
    public var state: State
    /// Whether it has a persistent definition (a transient guest is left out).
    public var persistent: Bool
    /// Maximum (configured) memory, KiB: what capacity is accounted with.
    public var memoryKiB: UInt64
    /// Current balloon memory, KiB.
    public var currentMemoryKiB: UInt64
    /// Configured vCPUs, counted against a target's vCPU ratio.
    public var vcpus: Int
    /// The guest's `<cpu>`, for the CPU filters.
    public var cpu: GuestCPU
    /// Its network interfaces, for the bridge and network filters.
    public var nics: [GuestNIC]
    /// Its disks, for the shared-storage and storage-copy filters.
    public var disks: [GuestDisk]
    /// Host devices passed through (PCI/USB/SCSI/mdev), as "type:address" strings.
    public var hostDevices: [String]
    /// Bytes a second the running guest dirtied when the inventory was read (libvirt's
    /// dirty-rate calculation); nil = not measured. Momentary: not in the fingerprint.
    public var dirtyRateBytesPerSec: UInt64?
    /// The resident memory of the running guest's QEMU process, KiB (libvirt's `balloon.rss`,
    /// read with the dirty rate): guest pages never touched are not resident, and are zero
    /// pages a migration sends almost free. nil = not read. Momentary: not in the fingerprint.
    public var residentMemoryKiB: UInt64?
    /// Host directories passed through (`<filesystem>`: virtiofs, 9p), as "DIR → TAG (driver)";
    /// nil when none (inventories written before this field decode, and keep their bytes).
    public var filesystems: [String]?
    /// The guest's machine type (`pc-q35-7.2`, …); nil when the XML names none.
    public var machine: String?
    /// How many snapshots libvirt keeps for the guest; nil when none (or not read). libvirt
    /// refuses to migrate a guest with any.
    public var snapshots: Int?
    /// The domain type (`<domain type=…>`: kvm, qemu), which the target must offer; nil when
    /// unknown (inventories written before this field: the virt-type filter does not judge it).
    public var virtType: String?

    /// A guest; the current memory defaults to the configured one, and empty lists of filesystems
    /// or no snapshots are stored as nil (so older inventories keep their bytes).
    public init(
        uuid: String, name: String, state: State, persistent: Bool = true,
        memoryKiB: UInt64, currentMemoryKiB: UInt64? = nil, vcpus: Int,
        cpu: GuestCPU = GuestCPU(mode: .hostModel), nics: [GuestNIC] = [],
        disks: [GuestDisk] = [], hostDevices: [String] = [], filesystems: [String]? = nil,
        machine: String? = nil, dirtyRateBytesPerSec: UInt64? = nil, snapshots: Int? = nil,
        virtType: String? = nil
    ) {
        self.uuid = uuid
        self.name = name
        self.state = state
        self.persistent = persistent
        self.memoryKiB = memoryKiB
        self.currentMemoryKiB = currentMemoryKiB ?? memoryKiB
        self.vcpus = vcpus
        self.cpu = cpu
        self.nics = nics
        self.disks = disks
        self.hostDevices = hostDevices
        self.filesystems = filesystems?.isEmpty == true ? nil : filesystems
        self.machine = machine
        self.dirtyRateBytesPerSec = dirtyRateBytesPerSec
        self.snapshots = snapshots == 0 ? nil : snapshots
        self.virtType = virtType
    }
}

/// A guest's `<cpu>` element, what the target's CPU must cover.
public struct GuestCPU: Codable, Hashable, Sendable {
    /// libvirt's CPU mode.
    public enum Mode: String, Codable, Sendable {
        case hostPassthrough = "host-passthrough"
        case hostModel = "host-model"
        case custom
        case maximum
        /// No <cpu> element: the hypervisor default model.
        case none
    }
    /// How the CPU is given to the guest.
    public var mode: Mode
    /// For custom: the model name; for host-passthrough: filled from the source host's model.
    public var model: String?
    /// Features the guest requires (policy require/force) beyond its model.
    public var features: [String]
    /// `<cpu check=…>`: none, partial or full; nil when the XML names none. With `none` libvirt
    /// does not compare the model with the host (QEMU drops what the host lacks).
    public var check: String?
    /// A guest CPU with `features` deduplicated and sorted.
    public init(mode: Mode, model: String? = nil, features: [String] = [], check: String? = nil) {
        self.mode = mode
        self.model = model
        self.features = Array(Set(features)).sorted()
        self.check = check
    }
}

/// A guest's network interface: where it connects on the host.
public struct GuestNIC: Codable, Hashable, Sendable {
    /// The interface type (`<interface type=…>`).
    public enum Kind: String, Codable, Sendable { case bridge, network, direct, user, other }
    /// The interface's type.
    public var kind: Kind
    /// Bridge name, network name, or direct device.
    public var source: String
    /// Its MAC address, if the XML gives one.
    public var mac: String?
    /// The network filter the NIC references (`<filterref filter=…>`); nil when none.
    public var filter: String?
    /// An interface of `kind` on `source`.
    public init(kind: Kind, source: String, mac: String? = nil, filter: String? = nil) {
        self.kind = kind
        self.source = source
        self.mac = mac
        self.filter = filter
    }
}

/// A guest's disk: where its storage is, and whether the target can reach it.
public struct GuestDisk: Codable, Hashable, Sendable {
    /// The disk type (`<disk type=…>`).
    public enum Kind: String, Codable, Sendable { case file, block, network, volume, other }
    /// The disk's type.
    public var kind: Kind
    /// disk, cdrom, floppy, lun
    public var device: String
    /// Target device name in the guest (vda, sdb, …).
    public var target: String
    /// Path, block device, "protocol:name" for network disks, "pool/volume" for volumes; empty for an empty cdrom.
    public var source: String
    /// Whether the storage is reachable from other hosts (network disk, shared pool, shareable, empty cdrom).
    public var shared: Bool
    /// Whether the guest sees it read-only.
    public var readonly: Bool
    /// The image format (`<driver type=…>`: raw, qcow2, …); nil when the XML names none.
    public var format: String?
    /// Virtual size and bytes allocated on the host (virDomainGetBlockInfo), read for local
    /// disks only; nil when not read. What a storage copy needs on the target.
    public var capacityBytes: UInt64?
    /// See `capacityBytes`.
    public var allocationBytes: UInt64?
    /// The images under this one (`<backingStore>`), nearest first; nil when none.
    public var backingChain: [String]?
    /// A disk; the sizes nil when not read, an empty backing chain stored as nil.
    public init(
        kind: Kind, device: String = "disk", target: String, source: String, shared: Bool, readonly: Bool = false,
        format: String? = nil, capacityBytes: UInt64? = nil, allocationBytes: UInt64? = nil,
        backingChain: [String]? = nil
    ) {
        self.kind = kind
        self.device = device
        self.target = target
        self.source = source
        self.shared = shared
        self.readonly = readonly
        self.format = format
        self.capacityBytes = capacityBytes
        self.allocationBytes = allocationBytes
        self.backingChain = backingChain?.isEmpty == true ? nil : backingChain
    }
}

extension Inventory {
    /// What the duration model needs beyond the plan file, by guest UUID (guests with nothing
    /// measured are left out).
    public var migrationLoads: [String: Timeline.Load] {
        var out: [String: Timeline.Load] = [:]
        for h in hosts {
            for g in h.guests where g.dirtyRateBytesPerSec != nil || g.residentMemoryKiB != nil {
                out[g.uuid] = Timeline.Load(
                    dirtyBytesPerSec: g.dirtyRateBytesPerSec,
                    residentBytes: g.residentMemoryKiB.map { $0.multipliedReportingOverflow(by: 1024).partialValue })
            }
        }
        return out
    }
}
