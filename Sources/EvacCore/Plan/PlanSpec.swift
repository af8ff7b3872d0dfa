/// A plan as the operator wrote it (plan language version 1), after syntax and type checks.
/// Marks are kept where later checks (against the inventory) need to point back at the file.
public struct PlanSpec: Hashable, Sendable {
    /// `version`: the plan language version; always 1.
    public var version: Int = 1
    /// `name`: the plan's name; it names the journal of the plan's runs.
    public var name: String
    /// `hosts`: every host the plan touches, sources and targets, in the order written.
    public var hosts: [HostSpec]
    /// `sources`: the names of the hosts to drain, in the order written, each with its mark.
    public var sources: [Located<String>]
    /// `targets`: the named pools of hosts that may receive guests, in the order written.
    public var targetPools: [TargetPool]
    /// `select`: which guests move; the default moves every guest.
    public var select: Selection = Selection()
    /// `constraints`: what a target must satisfy to receive a guest; the default checks CPU and bridges.
    public var constraints: Constraints = Constraints()
    /// `placement`: how a target is chosen and in which order guests migrate.
    public var placement: PlacementPolicy = PlacementPolicy()
    /// `parallelism`: how many migrations may be in flight at once (defaults 4 in all, 2 per host).
    public var parallelism: Parallelism = Parallelism()
    /// `migration`: the options every migration gets unless a group in `migrationGroups` replaces them.
    public var migration: MigrationOptions = MigrationOptions()
    /// Where `migration.ladder` is written (its key), for checks against the placement that
    /// point at it; nil when the plan has none.
    public var migrationLadderMark: Mark? = nil
    /// Guests that migrate with other options than `migration` (`migration.groups`); the first
    /// group matching a guest wins.
    public var migrationGroups: [MigrationGroupSpec] = []
    /// `on-failure`: whether the run starts new migrations after one failed (default `continue`).
    public var onFailure: OnFailure = .continue
    /// Deadlines for talking to hosts; nil = the defaults (the plan has no `connection:`).
    public var connection: ConnectionSettings? = nil
    /// The maintenance window; nil = none.
    public var window: MaintenanceWindow? = nil
    /// Commands run before and after each migration and each host's drain.
    public var hooks: HookSet = HookSet()
    /// A rolling maintenance cycle over the sources (run by `evac roll`); nil = one drain.
    public var rolling: RollingSpec? = nil

    /// A plan with the required keys and every optional key at its default.
    public init(name: String, hosts: [HostSpec], sources: [Located<String>], targetPools: [TargetPool]) {
        self.name = name
        self.hosts = hosts
        self.sources = sources
        self.targetPools = targetPools
    }

    /// The host named `name` in `hosts`; nil when the plan does not declare it.
    public func host(_ name: String) -> HostSpec? { hosts.first { $0.name == name } }
    /// The names of the hosts to drain (`sources`), in the order written, without marks.
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
    /// The value as read.
    public var value: Value
    /// Where in the plan file the value was read (line 0, column 0 when not read from a file).
    public var mark: Mark
    /// A value read at `mark`; the default mark is for values not read from a file.
    public init(_ value: Value, at mark: Mark = Mark(line: 0, column: 0)) {
        self.value = value
        self.mark = mark
    }
}

/// One entry of `hosts`: a host the plan touches and how evac reaches it.
public struct HostSpec: Hashable, Sendable {
    /// The host's name, as the plan's `sources`, `targets` and pins refer to it.
    public var name: String
    /// `hosts.<name>.uri`: the libvirt connection URI evac opens for this host (without a password).
    public var uri: String
    /// `hosts.<name>.cpu-pool`: the host's CPU pool, for `constraints.cpu: pool` (source and target must
    /// declare the same); nil = none declared.
    public var cpuPool: String?
    /// URI risks the operator accepted for this host (`allow-uri-risks:`); see `URIPolicy`.
    public var allowURIRisks: Set<URIPolicy.Risk>
    /// Where the migration stream goes when this host is the target (`migrate-uri:`, e.g.
    /// `tcp://10.0.0.5` on a dedicated migration network); nil = libvirt's default (the host's
    /// name as its daemon reports it). See `MigrateURIPolicy`.
    public var migrateURI: String?
    /// Where the host's entry is in the plan file, for diagnostics.
    public var mark: Mark
    /// A host entry; the optional keys default to not written.
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

/// One entry of `targets`: a named pool of hosts that may receive guests.
public struct TargetPool: Hashable, Sendable {
    /// `targets[].pool`: the pool's name (default `pool-N`, N its position in `targets`).
    public var name: String
    /// `targets[].hosts`: the names of the pool's hosts, each with its mark.
    public var hosts: [Located<String>]
    /// Where the pool's entry is in the plan file, for diagnostics.
    public var mark: Mark
    /// A pool of the named hosts.
    public init(name: String, hosts: [Located<String>], mark: Mark = Mark(line: 0, column: 0)) {
        self.name = name
        self.hosts = hosts
        self.mark = mark
    }
}

/// `select`: which guests the drain moves; by default every guest, shut-off and transient ones included.
public struct Selection: Hashable, Sendable {
    /// Globs on guest names; empty = every guest.
    public var include: [Located<Glob>] = []
    /// `select.exclude`: globs on guest names of guests that stay, even when `include` matches them.
    public var exclude: [Located<Glob>] = []
    /// `select.stopped`: what happens to shut-off guests (default `move-definition`).
    public var stopped: StoppedPolicy = .moveDefinition
    /// `select.transient`: what happens to running guests without a persistent definition (default `move`).
    public var transient: TransientPolicy = .move
    /// Every guest, with the default policies.
    public init() {}

    /// `select.stopped`: shut-off guests move their definition offline, or stay.
    public enum StoppedPolicy: String, Hashable, Sendable, CaseIterable {
        /// Migrate the definition offline (persistent guests only).
        case moveDefinition = "move-definition"
        /// Leave stopped guests where they are (they are reported as skipped).
        case skip
    }
    /// `select.transient`: running guests without a persistent definition move live, or stay.
    public enum TransientPolicy: String, Hashable, Sendable, CaseIterable {
        /// Move running transient guests live; they stay transient on the target unless persist is set.
        case move
        /// Leave transient guests where they are (they are reported as skipped).
        case skip
    }
}

/// `constraints`: the checks a target must pass before placement may send a guest to it.
public struct Constraints: Hashable, Sendable {
    /// `constraints.cpu`: how CPU compatibility with a target is checked (default `compatible`).
    public var cpu: CPUPolicy = .compatible
    /// `constraints.bridges`: whether a guest's bridges and networks must exist on the target (default
    /// `match`).
    public var bridges: BridgePolicy = .match
    /// Source bridge or network name -> name on the target; written into the destination XML.
    public var bridgeMap: [String: String] = [:]
    /// Memory kept free on every target, bytes.
    public var memoryReserveBytes: UInt64 = 0
    /// Maximum guest vCPUs per host logical CPU after placement; nil = unlimited.
    public var maxVCPURatio: Double? = nil
    /// `constraints.anti-affinity`: groups of guests that never share a target and of which at most
    /// `maxInFlight` migrate at once.
    public var antiAffinity: [AntiAffinityGroup] = []
    /// Guest name -> host name (must be a target).
    public var pins: [PinRule] = []
    /// Local disks: copy them with the migration, or refuse guests that have them.
    public var localStorage: LocalStoragePolicy = .refuse
    /// `constraints.allow`: evac's own refusals (not libvirt's) the plan waives, sorted, unique.
    public var allow: [PolicyWaiver] = []
    /// No constraints written: CPU `compatible`, bridges `match`, no reserve, ratio or pins, local storage
    /// refused.
    public init() {}

    /// `constraints.cpu`: compatible = same vendor and the target covers the guest's CPU features (libvirt
    /// compares them before each migration); pool = source and target declare the same `cpu-pool`; ignore =
    /// no check.
    public enum CPUPolicy: String, Hashable, Sendable, CaseIterable { case compatible, pool, ignore }
    /// `constraints.bridges`: match = every bridge or libvirt network a guest uses must exist on the target
    /// (after `bridge-map`); ignore = no check.
    public enum BridgePolicy: String, Hashable, Sendable, CaseIterable { case match, ignore }
    /// `constraints.local-storage`: what happens to guests with local (non-shared) disks.
    public enum LocalStoragePolicy: String, Hashable, Sendable, CaseIterable {
        /// Refuse guests with local disks: they stay on their source and are reported.
        case refuse
        /// Copy local disks (virsh --copy-storage-all); the target needs the same paths/pools.
        case copy
    }
}

/// One entry of `constraints.anti-affinity`: guests that never share a target.
public struct AntiAffinityGroup: Hashable, Sendable {
    /// `constraints.anti-affinity[].name`: the group's name (default `anti-affinity-N`, N its position).
    public var name: String
    /// `constraints.anti-affinity[].guests`: globs on the names of the group's guests.
    public var guests: [Located<Glob>]
    /// How many of the group may be migrating at once.
    public var maxInFlight: Int
    /// Where the group's entry is in the plan file, for diagnostics.
    public var mark: Mark
    /// A group of the guests matched by `guests`.
    public init(name: String, guests: [Located<Glob>], maxInFlight: Int, mark: Mark = Mark(line: 0, column: 0)) {
        self.name = name
        self.guests = guests
        self.maxInFlight = maxInFlight
        self.mark = mark
    }
}

/// One entry of `constraints.pin`: guests matched by `guest` must go to the target `host`.
public struct PinRule: Hashable, Sendable {
    /// The guest name or glob (the key under `constraints.pin`).
    public var guest: Located<Glob>
    /// The target host the matched guests must go to (it must be a target).
    public var host: Located<String>
    /// A pin of the guests matched by `guest` onto `host`.
    public init(guest: Located<Glob>, host: Located<String>) {
        self.guest = guest
        self.host = host
    }
}

/// `placement`: how a target is chosen among those that pass every constraint, and the order guests migrate
/// in.
public struct PlacementPolicy: Hashable, Sendable {
    /// `placement.choose`: which target a guest goes to among those that pass every filter (default
    /// `most-free-memory`).
    public var choose: Choose = .mostFreeMemory
    /// `placement.order`: the order guests are migrated in, and placed in after the most constrained (default
    /// `shortest-drain`).
    public var order: Order = .shortestDrain
    /// `placement.after`: ordering rules; a guest matched by a rule's `move` starts only after every guest
    /// matched by its `after` is done.
    public var after: [AfterRule] = []
    /// Which guests matter most when not every guest fits (`placement.priority`).
    public var priority: [PriorityRule] = []
    /// Placement with its defaults: `most-free-memory`, `shortest-drain`, no ordering or priority rules.
    public init() {}

    /// The priority of a guest: that of the first rule matching its name, or 0.
    public func priority(of guest: String) -> Int {
        priority.first { $0.guests.contains { $0.value.matches(guest) } }?.priority ?? 0
    }

    /// `placement.choose`: spread guests over the targets, or pack them.
    public enum Choose: String, Hashable, Sendable, CaseIterable {
        /// Send the guest to the target with the most free memory (spreads guests).
        case mostFreeMemory = "most-free-memory"
        /// Fill the fullest target that still fits (packs tightly, leaves whole hosts free).
        case leastFreeMemory = "least-free-memory"
    }
    /// `placement.order`: the order guests are migrated in.
    public enum Order: String, Hashable, Sendable, CaseIterable {
        /// The shortest predicted drain (`DrainOrder`): the source with the most predicted work
        /// left first, its longest migration first; never predicted slower than largest-first.
        case shortestDrain = "shortest-drain"
        /// By configured memory, largest first.
        case largestFirst = "largest-first"
        /// By configured memory, smallest first.
        case smallestFirst = "smallest-first"
        /// As the inventory lists the guests.
        case asListed = "as-listed"
    }
}

/// Guests matched by `guests` have priority `priority`. When not every guest can be placed,
/// placement first places as many guests of the highest priority as it can, then of the next,
/// and so on; then as many guests as it can; then as much memory.
public struct PriorityRule: Hashable, Sendable {
    /// `placement.priority[].guests`: globs on the names of the guests that get this priority.
    public var guests: [Located<Glob>]
    /// `placement.priority[].priority`: higher is placed first, from 0 to 1000 (`range`); guests no rule
    /// matches have 0.
    public var priority: Int
    /// Where the rule's entry is in the plan file, for diagnostics.
    public var mark: Mark
    /// The range a priority is written in.
    public static let range = 0...1000
    /// A rule giving the guests matched by `guests` the priority `priority`.
    public init(guests: [Located<Glob>], priority: Int, mark: Mark = Mark(line: 0, column: 0)) {
        self.guests = guests
        self.priority = priority
        self.mark = mark
    }
}

/// One entry of `placement.after`: an ordering rule between two sets of guests.
public struct AfterRule: Hashable, Sendable {
    /// Guests matched by `move` start only after every guest matched by `after` is done.
    public var move: [Located<Glob>]
    /// `placement.after[].after`: globs on the guests that must be done before those matched by `move` start.
    public var after: [Located<Glob>]
    /// Where the rule's entry is in the plan file, for diagnostics.
    public var mark: Mark
    /// A rule: guests matched by `move` start after those matched by `after` are done.
    public init(move: [Located<Glob>], after: [Located<Glob>], mark: Mark = Mark(line: 0, column: 0)) {
        self.move = move
        self.after = after
        self.mark = mark
    }
}

/// `parallelism`: limits on the migrations in flight at once; a migration starts only when all three allow
/// it.
public struct Parallelism: Hashable, Sendable {
    /// `parallelism.total`: migrations in flight at once, in all (default 4, 1 to 1024).
    public var total: Int = 4
    /// `parallelism.per-source`: migrations in flight at once out of one source host (default 2, 1 to 1024).
    public var perSource: Int = 2
    /// `parallelism.per-target`: incoming migrations in flight at once onto one target host (default 2, 1 to
    /// 1024); it counts migrations arriving, not guests already there.
    public var perTarget: Int = 2
    /// Limits of `total` migrations in all, `perSource` out of one source and `perTarget` onto one target.
    public init(total: Int = 4, perSource: Int = 2, perTarget: Int = 2) {
        self.total = total
        self.perSource = perSource
        self.perTarget = perTarget
    }
}

/// `migration`: how each guest is migrated (libvirt's migration flags and parameters); `migration.groups` may
/// replace keys for some guests.
public struct MigrationOptions: Hashable, Sendable, Codable {
    /// `migration.mode`: live = the guest keeps running; paused = paused during the copy; offline = only the
    /// definition moves (shut-off guests).
    public enum Mode: String, Hashable, Sendable, Codable, CaseIterable { case live, paused, offline }
    /// `migration.post-copy`: whether and when a live migration switches to post-copy.
    public enum PostCopy: String, Hashable, Sendable, Codable, CaseIterable {
        /// Never switch to post-copy (the default).
        case never
        /// Switch to post-copy once the first pre-copy pass is done.
        case afterFirstPass = "after-first-pass"
        /// Switch to post-copy when the migration's `timeout` is reached, instead of aborting.
        case onTimeout = "on-timeout"
    }
    /// How the stream is compressed (libvirt's `VIR_MIGRATE_PARAM_COMPRESSION`). xbzrle and mt
    /// work on a single connection only, zlib and zstd (multifd) on parallel connections only.
    public enum CompressionMethod: String, Hashable, Sendable, Codable, CaseIterable {
        case xbzrle, mt, zlib, zstd
        /// Whether libvirt accepts the method with `VIR_MIGRATE_PARALLEL`.
        public var isParallel: Bool { self == .zlib || self == .zstd }
    }
    /// `migration.auto-converge`: throttle a guest's vCPUs when its memory changes faster than it is sent
    /// (`true` = initial 20, increment 10).
    public struct AutoConverge: Hashable, Sendable, Codable {
        /// `migration.auto-converge.initial`: the first throttle, percent of the vCPUs' time (1 to 99;
        /// default 20).
        public var initial: Int
        /// `migration.auto-converge.increment`: percent added to the throttle at each further iteration (1 to
        /// 99; default 10).
        public var increment: Int
        /// Throttling that starts at `initial` percent and grows by `increment` percent.
        public init(initial: Int, increment: Int) {
            self.initial = initial
            self.increment = increment
        }
    }
    /// `migration.timeout`: when one migration is aborted (the guest stays on its source).
    public enum Timeout: Hashable, Sendable, Codable {
        /// The same for every guest, milliseconds (`timeout: 20m`).
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

    /// `migration.mode` (default `live`).
    public var mode: Mode = .live
    /// `migration.max-downtime`: the longest pause libvirt may take at the switch-over of a live migration,
    /// milliseconds (default 300; 1 to 2,000,000).
    public var maxDowntimeMs: UInt64 = 300
    /// Bytes per second; nil = unlimited.
    public var bandwidthBytesPerSec: UInt64? = nil
    /// `migration.timeout`: abort one migration after this long, fixed (`20m`) or per GiB of guest memory
    /// (`2m/GiB`); nil = no timeout.
    public var timeout: Timeout? = nil
    /// Abort when the remaining data has not shrunk for this long; nil = never.
    public var progressTimeoutMs: UInt64? = nil
    /// `migration.auto-converge`: the vCPU throttling; nil = off (`auto-converge: false`, the default).
    public var autoConverge: AutoConverge? = nil
    /// `migration.post-copy` (default `never`).
    public var postCopy: PostCopy = .never
    /// `migration.compression`: compress the migration stream (default false); the method is in
    /// `compressionMethod`.
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
    /// `migration.undefine-source`: remove the guest's definition from the source once it runs on the target
    /// (default true).
    public var undefineSource: Bool = true
    /// Parallel connections for one migration (virsh --parallel); nil = libvirt's default.
    public var parallelConnections: Int? = nil
    /// Further attempts for transient failures; nil = `RetryPolicy.default` (the plan has no
    /// `retry:`; optional so that plan files written before it existed still decode).
    public var retry: RetryPolicy? = nil
    /// What the executor does with a migration that stops converging; nil = nothing beyond
    /// `timeout`/`progress-timeout` (optional so that plan files written before it decode).
    public var ladder: ConvergenceLadder? = nil
    /// The options every key left at its default: live, 300 ms downtime, no caps or timeouts, persist and
    /// undefine the source.
    public init() {}

    /// The retry policy in effect: `retry`, or `RetryPolicy.default` when the plan has no `retry:`.
    public var retryPolicy: RetryPolicy { retry ?? .default }
    /// The ranges the plan language accepts, also checked on plan files (which are input too).
    public enum Bounds {
        /// QEMU's downtime-limit is at most 2000 s.
        public static let maxDowntimeMs: ClosedRange<UInt64> = 1...2_000_000
        /// `migration.timeout` when fixed, milliseconds: 1 s to 7 days.
        public static let timeoutMs: ClosedRange<UInt64> = 1000...(7 * 86_400_000)
        /// `migration.timeout` per GiB of guest memory, milliseconds: 1 s to 1 day.
        public static let timeoutPerGiBMs: ClosedRange<UInt64> = 1000...86_400_000
        /// Zero would abort every migration at its first progress sample.
        public static let progressTimeoutMs: ClosedRange<UInt64> = 1000...86_400_000
        /// `migration.bandwidth`, bytes per second: 1 MiB/s to 1 TiB/s.
        public static let bandwidthBytesPerSec: ClosedRange<UInt64> = 1_048_576...(1 << 40)
        /// `migration.parallel-connections`: 1 to 64.
        public static let parallelConnections: ClosedRange<Int> = 1...64
        /// QEMU's cpu-throttle-initial and cpu-throttle-increment accept 1 to 99.
        public static let autoConvergePercent: ClosedRange<Int> = 1...99
        /// `migration.retry.attempts`: 1 (never retry) to 20.
        public static let retryAttempts: ClosedRange<Int> = 1...20
        /// `migration.retry.backoff`, milliseconds: 0 to 1 h.
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
        /// What is wrong, for the diagnostic's message.
        public var message: String
        /// How the operator fixes it, for the diagnostic's help.
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

/// `on-failure`: what the run does after a migration failed (default `continue`).
public enum OnFailure: String, Hashable, Sendable, Codable, CaseIterable {
    /// Keep running migrations that do not depend on the failed one.
    case `continue`
    /// Start no new migration after a failure.
    case stop
}
