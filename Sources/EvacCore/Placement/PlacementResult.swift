/// The outcome of placement: every selected guest on a source is placed, unplaceable with a
/// reason per candidate target, or skipped by the plan's selection rules.
public struct PlacementResult: Codable, Hashable, Sendable {
    /// In migration order (the plan's `order`), one per guest that moves.
    public var placements: [Placement]
    public var unplaceable: [Unplaceable]
    public var skipped: [SkippedGuest]
    /// Every target's usage before and after the placements, sorted by host name.
    public var targets: [TargetUsage]
    /// Notes on how the result was found (e.g. "repair moved 3 guests off their most-free target").
    public var notes: [String]

    public init(
        placements: [Placement], unplaceable: [Unplaceable], skipped: [SkippedGuest],
        targets: [TargetUsage], notes: [String] = []
    ) {
        self.placements = placements
        self.unplaceable = unplaceable
        self.skipped = skipped
        self.targets = targets
        self.notes = notes
    }
}

public struct Placement: Codable, Hashable, Sendable {
    public var guest: String
    public var uuid: String
    public var source: String
    public var target: String
    public var memoryKiB: UInt64
    public var vcpus: Int
    /// live | paused | offline (offline for guests that are shut off and move as a definition).
    public var mode: MigrationOptions.Mode
    /// Local disks to copy with the migration (storage copy), by target device.
    public var copyStorage: [String]
    /// Why the guest did not go to the target with the most free memory, when it did not.
    public var offMostFree: String?
    public init(
        guest: String, uuid: String, source: String, target: String, memoryKiB: UInt64,
        vcpus: Int, mode: MigrationOptions.Mode, copyStorage: [String] = [], offMostFree: String? = nil
    ) {
        self.guest = guest
        self.uuid = uuid
        self.source = source
        self.target = target
        self.memoryKiB = memoryKiB
        self.vcpus = vcpus
        self.mode = mode
        self.copyStorage = copyStorage
        self.offMostFree = offMostFree
    }
}

public struct Unplaceable: Codable, Hashable, Sendable {
    public var guest: String
    public var uuid: String
    public var source: String
    public var memoryKiB: UInt64
    public var vcpus: Int
    /// A reason that applies to the guest itself (host devices, local disks), checked before targets.
    public var guestReason: String?
    /// One rejection per candidate target, sorted by host name.
    public var candidates: [Rejection]
    public init(
        guest: String, uuid: String, source: String, memoryKiB: UInt64, vcpus: Int,
        guestReason: String?, candidates: [Rejection]
    ) {
        self.guest = guest
        self.uuid = uuid
        self.source = source
        self.memoryKiB = memoryKiB
        self.vcpus = vcpus
        self.guestReason = guestReason
        self.candidates = candidates
    }
}

/// Why one target cannot take one guest: a named filter and a sentence for people.
public struct Rejection: Codable, Hashable, Sendable {
    public var target: String
    /// The filter's name: unreachable, is-source, cpu-vendor, cpu-model, cpu-features, cpu-pool,
    /// bridge, memory, vcpu-ratio, anti-affinity, pin, name-conflict, arch.
    public var filter: String
    public var reason: String
    public init(target: String, filter: String, reason: String) {
        self.target = target
        self.filter = filter
        self.reason = reason
    }
}

public struct SkippedGuest: Codable, Hashable, Sendable {
    public var guest: String
    public var uuid: String
    public var source: String
    /// excluded | stopped | transient
    public var why: String
    public init(guest: String, uuid: String, source: String, why: String) {
        self.guest = guest
        self.uuid = uuid
        self.source = source
        self.why = why
    }
}

/// A target's memory and vCPUs from allocations, before and after the placements. libvirt's
/// momentary free-memory figure is not kept here: it moves with page cache, and a plan file
/// (and its hash) must not change because of it; the report reads it from the inventory.
public struct TargetUsage: Codable, Hashable, Sendable {
    public var host: String
    public var memoryKiB: UInt64
    public var reserveKiB: UInt64
    /// Configured memory of guests already on the host.
    public var usedBeforeKiB: UInt64
    /// … plus guests planned onto it.
    public var usedAfterKiB: UInt64
    public var cpus: Int
    public var vcpusBefore: Int
    public var vcpusAfter: Int
    public var incoming: Int
    public init(
        host: String, memoryKiB: UInt64, reserveKiB: UInt64, usedBeforeKiB: UInt64,
        usedAfterKiB: UInt64, cpus: Int, vcpusBefore: Int,
        vcpusAfter: Int, incoming: Int
    ) {
        self.host = host
        self.memoryKiB = memoryKiB
        self.reserveKiB = reserveKiB
        self.usedBeforeKiB = usedBeforeKiB
        self.usedAfterKiB = usedAfterKiB
        self.cpus = cpus
        self.vcpusBefore = vcpusBefore
        self.vcpusAfter = vcpusAfter
        self.incoming = incoming
    }
    /// Memory left for guests after the reserve, after placement (may be negative when overcommitted before).
    public var headroomAfterKiB: Int64 {
        // Saturating: the figures come from an inventory or a plan file, both input.
        let free = memoryKiB.subtractingReportingOverflow(reserveKiB)
        let base: Int64 = free.overflow ? -Int64(clamping: reserveKiB - memoryKiB) : Int64(clamping: free.partialValue)
        let (v, o) = base.subtractingReportingOverflow(Int64(clamping: usedAfterKiB))
        return o ? Int64.min : v
    }
}
