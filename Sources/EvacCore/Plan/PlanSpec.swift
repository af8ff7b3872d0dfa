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
    /// Guests that migrate with other options than `migration` (`migration.groups`); the first
    /// group matching a guest wins.
    public var migrationGroups: [MigrationGroupSpec] = []
    public var onFailure: OnFailure = .continue
    /// Deadlines for talking to hosts; nil = the defaults (the plan has no `connection:`).
    public var connection: ConnectionSettings? = nil
    /// The maintenance window; nil = none.
    public var window: MaintenanceWindow? = nil
    /// Commands run before and after each migration and each host's drain.
    public var hooks: HookSet = HookSet()
    /// A rolling maintenance cycle over the sources (run by `evac roll`); nil = one drain.
    public var rolling: RollingSpec? = nil

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
    /// Where the migration stream goes when this host is the target (`migrate-uri:`, e.g.
    /// `tcp://10.0.0.5` on a dedicated migration network); nil = libvirt's default (the host's
    /// name as its daemon reports it). See `MigrateURIPolicy`.
    public var migrateURI: String?
    public var mark: Mark
    public init(
        name: String, uri: String, cpuPool: String? = nil, allowURIRisks: Set<URIPolicy.Risk> = [],
        migrateURI: String? = nil, mark: Mark = Mark(line: 0, column: 0)
    ) {
        self.name = name
        self.uri = uri
        self.cpuPool = cpuPool
        self.allowURIRisks = allowURIRisks
        self.migrateURI = migrateURI
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
    public var order: Order = .shortestDrain
    public var after: [AfterRule] = []
    /// Which guests matter most when not every guest fits (`placement.priority`).
    public var priority: [PriorityRule] = []
    public init() {}

    /// The priority of a guest: that of the first rule matching its name, or 0.
    public func priority(of guest: String) -> Int {
        priority.first { $0.guests.contains { $0.value.matches(guest) } }?.priority ?? 0
    }

    public enum Choose: String, Hashable, Sendable, CaseIterable {
        case mostFreeMemory = "most-free-memory"
        /// Fill the fullest target that still fits (packs tightly, leaves whole hosts free).
        case leastFreeMemory = "least-free-memory"
    }
    public enum Order: String, Hashable, Sendable, CaseIterable {
        /// The shortest predicted drain (`DrainOrder`): the source with the most predicted work
        /// left first, its longest migration first; never predicted slower than largest-first.
        case shortestDrain = "shortest-drain"
        case largestFirst = "largest-first"
        case smallestFirst = "smallest-first"
        case asListed = "as-listed"
    }
}

/// Guests matched by `guests` have priority `priority`. When not every guest can be placed,
/// placement first places as many guests of the highest priority as it can, then of the next,
/// and so on; then as many guests as it can; then as much memory.
public struct PriorityRule: Hashable, Sendable {
    public var guests: [Located<Glob>]
    public var priority: Int
    public var mark: Mark
    /// The range a priority is written in.
    public static let range = 0...1000
    public init(guests: [Located<Glob>], priority: Int, mark: Mark = Mark(line: 0, column: 0)) {
        self.guests = guests
        self.priority = priority
        self.mark = mark
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
    /// How the stream is compressed (libvirt's `VIR_MIGRATE_PARAM_COMPRESSION`). xbzrle and mt
    /// work on a single connection only, zlib and zstd (multifd) on parallel connections only.
    public enum CompressionMethod: String, Hashable, Sendable, Codable, CaseIterable {
        case xbzrle, mt, zlib, zstd
        /// Whether libvirt accepts the method with `VIR_MIGRATE_PARALLEL`.
        public var isParallel: Bool { self == .zlib || self == .zstd }
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
    /// The compression method; nil = libvirt's default (xbzrle on one connection; with parallel
    /// connections libvirt has no default and refuses, so the plan language requires one).
    /// Optional, as the fields below, so that plan files written before it still decode.
    public var compressionMethod: CompressionMethod? = nil
    /// Encrypt the migration stream with TLS (`VIR_MIGRATE_TLS`); the hosts need libvirt's
    /// migration TLS certificates. nil = off.
    public var tls: Bool? = nil
    /// Define on the target and undefine on the source.
    public var persist: Bool = true
    public var undefineSource: Bool = true
    /// Parallel connections for one migration (virsh --parallel); nil = libvirt's default.
    public var parallelConnections: Int? = nil
    /// Further attempts for transient failures; nil = `RetryPolicy.default` (the plan has no
    /// `retry:`; optional so that plan files written before it existed still decode).
    public var retry: RetryPolicy? = nil
    /// What the executor does with a migration that stops converging; nil = nothing beyond
    /// `timeout`/`progress-timeout` (optional so that plan files written before it decode).
    public var ladder: ConvergenceLadder? = nil
    public init() {}

    public var retryPolicy: RetryPolicy { retry ?? .default }
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
        /// QEMU's cpu-throttle-initial and cpu-throttle-increment accept 1 to 99.
        public static let autoConvergePercent: ClosedRange<Int> = 1...99
        public static let retryAttempts: ClosedRange<Int> = 1...20
        public static let retryBackoffMs: ClosedRange<UInt64> = 0...3_600_000
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
        if let r = retry, !Bounds.retryAttempts.contains(r.attempts) || !Bounds.retryBackoffMs.contains(r.backoffMs) {
            out.append("retry (\(r.attempts) attempts, \(r.backoffMs)ms back-off) is out of range")
        }
        out += ladderProblems
        out += conflicts.map(\.message)
        return out
    }

    /// A combination of options that libvirt or QEMU refuses, or that loses a guest.
    public struct Conflict: Hashable, Sendable {
        /// The option the diagnostic points at (a key under `migration:`).
        public var key: String
        public var message: String
        public var help: String
    }

    /// The combinations of options that libvirt or QEMU refuse, or that lose the guest's
    /// definition; the plan reader reports them at their keys, plan files are checked too.
    public var conflicts: [Conflict] {
        var out: [Conflict] = []
        if undefineSource && !persist {
            out.append(
                Conflict(
                    key: "persist",
                    message: "persist: false with undefine-source: true leaves the guest defined on no host",
                    help:
                        "the target keeps it only while it runs and the source's definition is removed; set persist: true, or undefine-source: false"
                ))
        }
        if compression, parallelConnections != nil {
            if compressionMethod == nil {
                out.append(
                    Conflict(
                        key: "compression", message: "compression with parallel-connections needs a method",
                        help:
                            "libvirt refuses a parallel migration with compression but no method; write compression: zstd (or zlib)"
                    ))
            } else if let m = compressionMethod, !m.isParallel {
                out.append(
                    Conflict(
                        key: "compression",
                        message: "compression \(m.rawValue) does not work with parallel-connections",
                        help:
                            "libvirt refuses \(m.rawValue) for a parallel migration; write compression: zstd (or zlib), or drop parallel-connections"
                    ))
            }
        } else if compression, let m = compressionMethod, m.isParallel {
            out.append(
                Conflict(
                    key: "compression", message: "compression \(m.rawValue) needs parallel-connections",
                    help:
                        "libvirt compresses with \(m.rawValue) only on parallel connections; set parallel-connections, or write compression: xbzrle"
                ))
        }
        if postCopyEnabled {
            // The plan's policy or, without one, the ladder's rung enables it.
            let (key, off) =
                postCopy != .never ? ("post-copy", "post-copy: never") : ("ladder.post-copy", "ladder.post-copy: false")
            if parallelConnections != nil {
                out.append(
                    Conflict(
                        key: key, message: "post-copy does not work with parallel-connections",
                        help:
                            "QEMU refuses post-copy together with multifd (\"Postcopy is not yet compatible with multifd\"); set \(off), or drop parallel-connections"
                    ))
            }
            if compression, compressionMethod == .mt {
                out.append(
                    Conflict(
                        key: key, message: "post-copy does not work with compression mt",
                        help:
                            "QEMU refuses post-copy together with multi-threaded compression; write compression: xbzrle, or set \(off)"
                    ))
            }
        }
        out += ladderConflicts
        if !compression, compressionMethod != nil {
            out.append(
                Conflict(
                    key: "compression", message: "a compression method is set with compression off", help: "plan again")
            )
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
