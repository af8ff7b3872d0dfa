/// A plan as the operator wrote it (plan language version 1), after syntax and type checks.
/// Marks are kept where later checks (against the inventory) need to point back at the file.
public struct PlanSpec: Hashable, Sendable {
    public var version: Int = 1
    public var name: String
    public var hosts: [HostSpec]
    public var sources: [Located<String>]
    public var targetPools: [TargetPool]
    public var select: Selection = Selection()
    public var constraints: Constraints = Constraints()
    public var placement: PlacementPolicy = PlacementPolicy()
    public var parallelism: Parallelism = Parallelism()
    public var migration: MigrationOptions = MigrationOptions()
    public var onFailure: OnFailure = .continue

    public init(name: String, hosts: [HostSpec], sources: [Located<String>], targetPools: [TargetPool]) {
        self.name = name
        self.hosts = hosts
        self.sources = sources
        self.targetPools = targetPools
    }

    public func host(_ name: String) -> HostSpec? { hosts.first { $0.name == name } }
    public var sourceNames: [String] { sources.map(\.value) }
    /// Every target host, in pool order, without duplicates.
    public var targetNames: [String] {
        var seen = Set<String>()
        var out: [String] = []
        for pool in targetPools { for h in pool.hosts where seen.insert(h.value).inserted { out.append(h.value) } }
        return out
    }
}

/// A value with the mark it was read at (marks are not part of equality of the plan's meaning
/// but are kept for diagnostics).
public struct Located<Value: Hashable & Sendable>: Hashable, Sendable {
    public var value: Value
    public var mark: Mark
    public init(_ value: Value, at mark: Mark = Mark(line: 0, column: 0)) {
        self.value = value
        self.mark = mark
    }
}

public struct HostSpec: Hashable, Sendable {
    public var name: String
    public var uri: String
    public var cpuPool: String?
    /// URI risks the operator accepted for this host (`allow-uri-risks:`); see `URIPolicy`.
    public var allowURIRisks: Set<URIPolicy.Risk>
    public var mark: Mark
    public init(
        name: String, uri: String, cpuPool: String? = nil, allowURIRisks: Set<URIPolicy.Risk> = [],
        mark: Mark = Mark(line: 0, column: 0)
    ) {
        self.name = name
        self.uri = uri
        self.cpuPool = cpuPool
        self.allowURIRisks = allowURIRisks
        self.mark = mark
    }
}

public struct TargetPool: Hashable, Sendable {
    public var name: String
    public var hosts: [Located<String>]
    public var mark: Mark
    public init(name: String, hosts: [Located<String>], mark: Mark = Mark(line: 0, column: 0)) {
        self.name = name
        self.hosts = hosts
        self.mark = mark
    }
}

public struct Selection: Hashable, Sendable {
    /// Globs on guest names; empty = every guest.
    public var include: [Located<Glob>] = []
    public var exclude: [Located<Glob>] = []
    public var stopped: StoppedPolicy = .moveDefinition
    public var transient: TransientPolicy = .move
    public init() {}

    public enum StoppedPolicy: String, Hashable, Sendable, CaseIterable {
        /// Migrate the definition offline (persistent guests only).
        case moveDefinition = "move-definition"
        /// Leave stopped guests where they are (they are reported as skipped).
        case skip
    }
    public enum TransientPolicy: String, Hashable, Sendable, CaseIterable {
        /// Move running transient guests live; they stay transient on the target unless persist is set.
        case move
        case skip
    }
}

public struct Constraints: Hashable, Sendable {
    public var cpu: CPUPolicy = .compatible
    public var bridges: BridgePolicy = .match
    /// Source bridge or network name -> name on the target; written into the destination XML.
    public var bridgeMap: [String: String] = [:]
    /// Memory kept free on every target, bytes.
    public var memoryReserveBytes: UInt64 = 0
    /// Maximum guest vCPUs per host logical CPU after placement; nil = unlimited.
    public var maxVCPURatio: Double? = nil
    public var antiAffinity: [AntiAffinityGroup] = []
    /// Guest name -> host name (must be a target).
    public var pins: [PinRule] = []
    /// Local disks: copy them with the migration, or refuse guests that have them.
    public var localStorage: LocalStoragePolicy = .refuse
    public init() {}

    public enum CPUPolicy: String, Hashable, Sendable, CaseIterable { case compatible, pool, ignore }
    public enum BridgePolicy: String, Hashable, Sendable, CaseIterable { case match, ignore }
    public enum LocalStoragePolicy: String, Hashable, Sendable, CaseIterable {
        case refuse
        /// Copy local disks (virsh --copy-storage-all); the target needs the same paths/pools.
        case copy
    }
}

public struct AntiAffinityGroup: Hashable, Sendable {
    public var name: String
    public var guests: [Located<Glob>]
    /// How many of the group may be migrating at once.
    public var maxInFlight: Int
    public var mark: Mark
    public init(name: String, guests: [Located<Glob>], maxInFlight: Int, mark: Mark = Mark(line: 0, column: 0)) {
        self.name = name
        self.guests = guests
        self.maxInFlight = maxInFlight
        self.mark = mark
    }
}

public struct PinRule: Hashable, Sendable {
    public var guest: Located<Glob>
    public var host: Located<String>
    public init(guest: Located<Glob>, host: Located<String>) {
        self.guest = guest
        self.host = host
    }
}

public struct PlacementPolicy: Hashable, Sendable {
    public var choose: Choose = .mostFreeMemory
    public var order: Order = .largestFirst
    public var after: [AfterRule] = []
    public init() {}

    public enum Choose: String, Hashable, Sendable, CaseIterable {
        case mostFreeMemory = "most-free-memory"
        /// Fill the fullest target that still fits (packs tightly, leaves whole hosts free).
        case leastFreeMemory = "least-free-memory"
    }
    public enum Order: String, Hashable, Sendable, CaseIterable {
        case largestFirst = "largest-first"
        case smallestFirst = "smallest-first"
        case asListed = "as-listed"
    }
}

public struct AfterRule: Hashable, Sendable {
    /// Guests matched by `move` start only after every guest matched by `after` is done.
    public var move: [Located<Glob>]
    public var after: [Located<Glob>]
    public var mark: Mark
    public init(move: [Located<Glob>], after: [Located<Glob>], mark: Mark = Mark(line: 0, column: 0)) {
        self.move = move
        self.after = after
        self.mark = mark
    }
}

public struct Parallelism: Hashable, Sendable {
    public var total: Int = 4
    public var perSource: Int = 2
    public var perTarget: Int = 2
    public init(total: Int = 4, perSource: Int = 2, perTarget: Int = 2) {
        self.total = total
        self.perSource = perSource
        self.perTarget = perTarget
    }
}

public struct MigrationOptions: Hashable, Sendable, Codable {
    public enum Mode: String, Hashable, Sendable, Codable, CaseIterable { case live, paused, offline }
    public enum PostCopy: String, Hashable, Sendable, Codable, CaseIterable {
        case never
        case afterFirstPass = "after-first-pass"
        case onTimeout = "on-timeout"
    }
    public struct AutoConverge: Hashable, Sendable, Codable {
        public var initial: Int
        public var increment: Int
        public init(initial: Int, increment: Int) {
            self.initial = initial
            self.increment = increment
        }
    }
    public enum Timeout: Hashable, Sendable, Codable {
        case fixed(milliseconds: UInt64)
        /// Scaled by the guest's memory: milliseconds per GiB.
        case perGiB(milliseconds: UInt64)
        /// The effective timeout for a guest of `memoryKiB`.
        public func milliseconds(forMemoryKiB kib: UInt64) -> UInt64 {
            switch self {
            case .fixed(let ms): return ms
            case .perGiB(let ms):
                let gib = max(1.0, Double(kib) / 1_048_576.0)
                // Saturates: memory and the per-GiB figure both come from input.
                let total = (Double(ms) * gib).rounded(.up)
                return total < 1.8e19 ? UInt64(total) : UInt64.max
            }
        }
    }

    public var mode: Mode = .live
    public var maxDowntimeMs: UInt64 = 300
    /// Bytes per second; nil = unlimited.
    public var bandwidthBytesPerSec: UInt64? = nil
    public var timeout: Timeout? = nil
    /// Abort when the remaining data has not shrunk for this long; nil = never.
    public var progressTimeoutMs: UInt64? = nil
    public var autoConverge: AutoConverge? = nil
    public var postCopy: PostCopy = .never
    public var compression: Bool = false
    /// Define on the target and undefine on the source.
    public var persist: Bool = true
    public var undefineSource: Bool = true
    /// Parallel connections for one migration (virsh --parallel); nil = libvirt's default.
    public var parallelConnections: Int? = nil
    public init() {}

    /// The ranges the plan language accepts, also checked on plan files (which are input too).
    public enum Bounds {
        /// QEMU's downtime-limit is at most 2000 s.
        public static let maxDowntimeMs: ClosedRange<UInt64> = 1...2_000_000
        public static let timeoutMs: ClosedRange<UInt64> = 1000...(7 * 86_400_000)
        public static let timeoutPerGiBMs: ClosedRange<UInt64> = 1000...86_400_000
        /// Zero would abort every migration at its first progress sample.
        public static let progressTimeoutMs: ClosedRange<UInt64> = 1000...86_400_000
        public static let bandwidthBytesPerSec: ClosedRange<UInt64> = 1_048_576...(1 << 40)
        public static let parallelConnections: ClosedRange<Int> = 1...64
        public static let autoConvergePercent: ClosedRange<Int> = 0...100
    }

    /// What is out of `Bounds` (empty when all is well).
    public var problems: [String] {
        var out: [String] = []
        if !Bounds.maxDowntimeMs.contains(maxDowntimeMs) {
            out.append("max-downtime \(maxDowntimeMs)ms is out of range")
        }
        if let b = bandwidthBytesPerSec, !Bounds.bandwidthBytesPerSec.contains(b) {
            out.append("bandwidth \(b) B/s is out of range")
        }
        switch timeout {
        case .fixed(let ms)? where !Bounds.timeoutMs.contains(ms): out.append("timeout \(ms)ms is out of range")
        case .perGiB(let ms)? where !Bounds.timeoutPerGiBMs.contains(ms):
            out.append("timeout \(ms)ms per GiB is out of range")
        default: break
        }
        if let p = progressTimeoutMs, !Bounds.progressTimeoutMs.contains(p) {
            out.append("progress-timeout \(p)ms is out of range")
        }
        if let a = autoConverge,
            !Bounds.autoConvergePercent.contains(a.initial) || !Bounds.autoConvergePercent.contains(a.increment)
        {
            out.append("auto-converge percentages are out of range")
        }
        if let n = parallelConnections, !Bounds.parallelConnections.contains(n) {
            out.append("parallel-connections \(n) is out of range")
        }
        return out
    }
}

public enum OnFailure: String, Hashable, Sendable, Codable, CaseIterable {
    /// Keep running migrations that do not depend on the failed one.
    case `continue`
    /// Start no new migration after a failure.
    case stop
}
