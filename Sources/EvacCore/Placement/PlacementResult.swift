/// The outcome of placement: every selected guest on a source is placed, unplaceable with a
/// reason per candidate target, or skipped by the plan's selection rules.
public struct PlacementResult: Codable, Hashable, Sendable {
    /// In migration order (the plan's `order`), one per guest that moves.
    public var placements: [Placement]
    /// Guests no target can take, with the reasons.
    public var unplaceable: [Unplaceable]
    /// Guests on the sources that the plan's selection leaves where they are.
    public var skipped: [SkippedGuest]
    /// Every target's usage before and after the placements, sorted by host name.
    public var targets: [TargetUsage]
    /// Notes on how the result was found (e.g. "repair moved 3 guests off their most-free target").
    public var notes: [String]

    /// A result as placement assembles it; `notes` empty when there is nothing to say.
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

/// Where one guest goes: from its source to its chosen target, and how it moves.
public struct Placement: Codable, Hashable, Sendable {
    /// The guest's libvirt domain name.
    public var guest: String
    /// The guest's libvirt UUID; resume and verification find the guest by it, not by name.
    public var uuid: String
    /// The host being drained that the guest runs on.
    public var source: String
    /// The host chosen from the target pools.
    public var target: String
    /// Configured memory of the guest, which placement accounts against the target's capacity.
    public var memoryKiB: UInt64
    /// Configured vCPUs, counted against the target's vCPU ratio.
    public var vcpus: Int
    /// live | paused | offline (offline for guests that are shut off and move as a definition).
    public var mode: MigrationOptions.Mode
    /// Local disks to copy with the migration (storage copy), by target device.
    public var copyStorage: [String]
    /// Why the guest did not go to the target with the most free memory, when it did not.
    public var offMostFree: String?
    /// One guest's placement; `copyStorage` empty when no disk is copied, `offMostFree` nil when
    /// it went to the most-free target.
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

/// A guest that no target can take, with the reason each candidate target refused it.
public struct Unplaceable: Codable, Hashable, Sendable {
    /// The guest's libvirt domain name.
    public var guest: String
    /// The guest's libvirt UUID.
    public var uuid: String
    /// The host it stays on.
    public var source: String
    /// Configured memory of the guest.
    public var memoryKiB: UInt64
    /// Configured vCPUs of the guest.
    public var vcpus: Int
    /// A reason that applies to the guest itself (host devices, local disks), checked before targets.
    public var guestReason: String?
    /// One rejection per candidate target, sorted by host name.
    public var candidates: [Rejection]
    /// A guest left unplaced, with its own reason (if any) and one rejection per candidate.
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
    /// The candidate target's host name.
    public var target: String
    /// The filter's name: unreachable, is-source, cpu-vendor, cpu-model, cpu-features, cpu-pool,
    /// bridge, memory, vcpu-ratio, anti-affinity, pin, name-conflict, arch.
    public var filter: String
    /// Why, for people (e.g. "2 GiB free after reserve, needs 4 GiB").
    public var reason: String
    /// `target` refused by `filter` for `reason`.
    public init(target: String, filter: String, reason: String) {
        self.target = target
        self.filter = filter
        self.reason = reason
    }
}

/// A guest on a source that the plan's `select` rules leave in place; it is reported, not moved.
public struct SkippedGuest: Codable, Hashable, Sendable {
    /// The guest's libvirt domain name.
    public var guest: String
    /// The guest's libvirt UUID.
    public var uuid: String
    /// The source host it stays on.
    public var source: String
    /// excluded | stopped | transient
    public var why: String
    /// A guest skipped for `why`.
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
    /// The target's host name.
    public var host: String
    /// The host's memory from libvirt.
    public var memoryKiB: UInt64
    /// Memory kept free on every target (`constraints.memory-reserve`).
    public var reserveKiB: UInt64
    /// Configured memory of guests already on the host.
    public var usedBeforeKiB: UInt64
    /// … plus guests planned onto it.
    public var usedAfterKiB: UInt64
    /// The host's physical CPUs, the base of `max-vcpu-ratio`.
    public var cpus: Int
    /// vCPUs of guests already on the host.
    public var vcpusBefore: Int
    /// … plus vCPUs of guests planned onto it.
    public var vcpusAfter: Int
    /// How many guests placement put on it.
    public var incoming: Int
    /// The usage of one target as placement accounted it.
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
