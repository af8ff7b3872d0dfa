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
///
/// A pool of thousands of targets refuses an unplaceable guest thousands of times, mostly for the
/// same few reasons: listing every one made the plan file and the report grow with guests ×
/// targets (2 GiB of JSON for 2,350 guests left on 8,000 targets). So every filter's count is
/// kept, and only the first `listedPerFilter` refusals of each filter are listed.
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
    /// The evac policy behind `guestReason` (waivable with `constraints.allow`); nil when the
    /// reason is libvirt's own, or there is none.
    public var guestPolicy: PolicyWaiver?
    /// Rejections by candidate target, sorted by host name: at most `listedPerFilter` per filter
    /// (all of them in a pool that small).
    public var candidates: [Rejection]
    /// Every filter that refused the guest on some candidate, with how many candidates it
    /// refused: most first, then by filter name.
    public var refusals: [RefusalTally] { tallies ?? Self.tally(candidates).1 }
    /// nil in a plan file written before the tally (which lists every candidate): such a file
    /// must encode as it was read, or its seal (a hash of the re-encoded value) would break.
    private var tallies: [RefusalTally]?

    /// How many refusals of one filter are listed by target; the rest are counted.
    public static let listedPerFilter = 8

    /// A guest left unplaced, with its own reason (if any) and one rejection per candidate
    /// (sorted by host name): tallied per filter, and listed up to `listedPerFilter` per filter.
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
        let (listed, tallies) = Self.tally(candidates)
        self.candidates = listed
        self.tallies = tallies
    }

    private enum CodingKeys: String, CodingKey {
        case guest, uuid, source, memoryKiB, vcpus, guestReason, guestPolicy, candidates
        case tallies = "refusals"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guest = try c.decode(String.self, forKey: .guest)
        uuid = try c.decode(String.self, forKey: .uuid)
        source = try c.decode(String.self, forKey: .source)
        memoryKiB = try c.decode(UInt64.self, forKey: .memoryKiB)
        vcpus = try c.decode(Int.self, forKey: .vcpus)
        guestReason = try c.decodeIfPresent(String.self, forKey: .guestReason)
        guestPolicy = try c.decodeIfPresent(PolicyWaiver.self, forKey: .guestPolicy)
        candidates = try c.decode([Rejection].self, forKey: .candidates)
        // Plan files written before the tally listed every candidate: `refusals` counts those.
        tallies = try c.decodeIfPresent([RefusalTally].self, forKey: .tallies)
    }

    /// The first `listedPerFilter` rejections of each filter (in the given order) and every
    /// filter's count.
    static func tally(_ all: [Rejection]) -> ([Rejection], [RefusalTally]) {
        var counts: [PlacementFilter: Int] = [:]
        var listed: [Rejection] = []
        for r in all {
            let n = counts[r.filter, default: 0]
            if n < listedPerFilter { listed.append(r) }
            counts[r.filter] = n + 1
        }
        let tallies = counts.map { RefusalTally(filter: $0.key, targets: $0.value) }
            .sorted { ($0.targets, $1.filter.rawValue) > ($1.targets, $0.filter.rawValue) }
        return (listed, tallies)
    }

    /// Per filter, how many of its refusals are counted but not listed in `candidates`.
    public var unlisted: [RefusalTally] {
        refusals.compactMap { t in
            let listed = candidates.reduce(0) { $0 + ($1.filter == t.filter ? 1 : 0) }
            return t.targets > listed ? RefusalTally(filter: t.filter, targets: t.targets - listed) : nil
        }
    }

    /// One line for logs and run output: the guest's own reason; else every candidate's
    /// ("lab-3: 6.5 GiB free after reserve, needs 16 GiB; lab-4: …") when all are listed; else
    /// each filter's count with its first refusal ("cpu-vendor on 600 targets (kvm-00200: CPU
    /// vendor Intel, guest needs AMD); …").
    public var why: String {
        if let guestReason { return guestReason }
        guard !refusals.isEmpty else { return "no candidate target" }
        if refusals.reduce(0, { $0 + $1.targets }) == candidates.count {
            return candidates.map { "\($0.target): \($0.reason)" }.joined(separator: "; ")
        }
        return refusals.map { t in
            let first = candidates.first { $0.filter == t.filter }.map { " (\($0.target): \($0.reason))" } ?? ""
            return "\(t.filter) on \(t.targets) target\(t.targets == 1 ? "" : "s")\(first)"
        }.joined(separator: "; ")
    }
}

/// How many candidate targets one filter refused a guest on.
public struct RefusalTally: Codable, Hashable, Sendable {
    /// The filter (as in `Rejection.filter`).
    public var filter: PlacementFilter
    /// How many candidates it refused the guest on.
    public var targets: Int
    /// `filter` refused the guest on `targets` candidates.
    public init(filter: PlacementFilter, targets: Int) {
        self.filter = filter
        self.targets = targets
    }
}

/// Why one target cannot take one guest: a named filter and a sentence for people.
public struct Rejection: Codable, Hashable, Sendable {
    /// The candidate target's host name.
    public var target: String
    /// The filter that refused it (its id, e.g. `memory`, in the plan file and the reports).
    public var filter: PlacementFilter
    /// Why, for people (e.g. "2 GiB free after reserve, needs 4 GiB").
    public var reason: String
    /// The evac policy behind this refusal, which libvirt would not make (waivable with
    /// `constraints.allow`); nil (absent in the file) for the rest.
    public var policy: PolicyWaiver?
    /// `target` refused by `filter` for `reason`; under `policy`, its suffix is appended.
    public init(target: String, filter: PlacementFilter, reason: String, policy: PolicyWaiver? = nil) {
        self.target = target
        self.filter = filter
        self.reason = reason + (policy?.policySuffix ?? "")
        self.policy = policy
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
