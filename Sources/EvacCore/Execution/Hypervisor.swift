import Foundation

/// What the executor needs from hypervisors. libvirt implements it for real (EvacLibvirt);
/// a fake implements it for fault injection in tests. Lives in the core so that neither the
/// executor nor the libvirt module depends on the other.
///
/// Every method may block on the network; implementations must not block Swift's cooperative
/// pool (run libvirt calls on their own threads).
public protocol Hypervisor: Sendable {
    /// Whether a guest (by UUID) is defined or running on a host, and in what state.
    func locate(guestUUID: String, on host: HostEndpoint) async throws(HypervisorError) -> GuestPresence

    /// A fresh inventory of one host (capacity, bridges, CPU, guests) for pre-checks.
    func inspect(_ host: HostEndpoint) async throws(HypervisorError) -> HostInventory

    /// libvirt's CPU comparison of the guest's CPU against the real target, when the
    /// hypervisor supports it; nil when it cannot tell.
    func compareCPU(
        guestUUID: String, source: HostEndpoint, target: HostEndpoint
    ) async throws(HypervisorError) -> CPUVerdict?

    /// Runs one migration to completion. Reports progress through `progress` (from any thread).
    /// On Task cancellation it must abort the job (the guest stays on its source) and throw
    /// `.aborted`. The executor enforces timeouts by cancelling.
    func migrate(
        _ request: MigrationRequest, progress: @escaping @Sendable (MigrationProgress) -> Void
    ) async throws(HypervisorError) -> MigrationOutcome

    /// Switches a running live migration to post-copy (only valid after its first iteration).
    func startPostCopy(guestUUID: String, source: HostEndpoint) async throws(HypervisorError)

    /// Sets a running live migration's max downtime (the convergence ladder's downtime rungs).
    func setMaxDowntime(guestUUID: String, source: HostEndpoint, milliseconds: UInt64) async throws(HypervisorError)

    /// Asks the guest to shut down (ACPI power button, `virDomainShutdown`); returns once asked,
    /// not once it is off (`locate` tells that). The offline fallback of the convergence ladder.
    func shutdown(guestUUID: String, on host: HostEndpoint) async throws(HypervisorError)

    /// Powers the guest off at once (`virDomainDestroy`); its definition stays.
    func destroy(guestUUID: String, on host: HostEndpoint) async throws(HypervisorError)

    /// Starts a defined, shut-off guest (`virDomainCreate`).
    func start(guestUUID: String, on host: HostEndpoint) async throws(HypervisorError)

    /// Removes a shut-off guest's definition from a host (`virDomainUndefineFlags`), its disks untouched.
    func undefine(guestUUID: String, on host: HostEndpoint) async throws(HypervisorError)

    /// The job libvirt runs on the guest on that host now (`virDomainGetJobStats`), nil when
    /// none: after kill -9 a peer-to-peer migration goes on inside the source daemon, and a
    /// resume waits for that job to end instead of deciding on a half-moved guest.
    func activeJob(guestUUID: String, on host: HostEndpoint) async throws(HypervisorError) -> GuestJob?
}

extension Hypervisor {
    /// Hypervisors without power control (test doubles) cannot take the offline fallback.
    public func shutdown(guestUUID: String, on host: HostEndpoint) async throws(HypervisorError) {
        throw HypervisorError(.unsupported, host: host.name, uri: host.uri, "shutdown is not supported here")
    }
    /// See `shutdown`.
    public func destroy(guestUUID: String, on host: HostEndpoint) async throws(HypervisorError) {
        throw HypervisorError(.unsupported, host: host.name, uri: host.uri, "destroy is not supported here")
    }
    /// See `shutdown`.
    public func start(guestUUID: String, on host: HostEndpoint) async throws(HypervisorError) {
        throw HypervisorError(.unsupported, host: host.name, uri: host.uri, "start is not supported here")
    }
    /// See `shutdown`.
    public func undefine(guestUUID: String, on host: HostEndpoint) async throws(HypervisorError) {
        throw HypervisorError(.unsupported, host: host.name, uri: host.uri, "undefine is not supported here")
    }
    /// Hypervisors that cannot read jobs report none: the guest's states alone then decide.
    public func activeJob(guestUUID: String, on host: HostEndpoint) async throws(HypervisorError) -> GuestJob? {
        nil
    }
}

/// A host as the executor reaches it: its plan name and libvirt URI, and where migration data
/// goes when it is the target.
public struct HostEndpoint: Hashable, Sendable, Codable {
    /// The host's name in the plan (what the journal and the messages say).
    public var name: String
    /// The libvirt connection URI (`qemu+ssh://…/system`).
    public var uri: String
    /// Where the migration data stream goes when this host is the target (libvirt's
    /// `migrate_uri`, e.g. `tcp://10.0.0.5`); nil = the hypervisor's default (the target's
    /// hostname). Needed when the hostname does not resolve to the migration network, and for
    /// several daemons on one machine (`tcp://127.0.0.1`).
    public var migrateURI: String?
    /// An endpoint; `migrateURI` nil leaves the data stream to the hypervisor's default.
    public init(name: String, uri: String, migrateURI: String? = nil) {
        self.name = name
        self.uri = uri
        self.migrateURI = migrateURI
    }
}

/// Where a guest is on one host, as resume and the post-check need to know it.
public enum GuestPresence: Hashable, Sendable {
    case absent
    case present(state: Guest.State, persistent: Bool)
}

/// How a target's CPU compares with what a guest needs (libvirt's CPU comparison): identical
/// or a superset can take it, incompatible cannot.
public enum CPUVerdict: String, Hashable, Sendable, Codable { case identical, superset, incompatible }

/// One migration as the hypervisor carries it out: which guest, between which endpoints, with
/// the run's options and the step's storage copy and bridge renames.
public struct MigrationRequest: Hashable, Sendable {
    /// The guest's libvirt UUID: the hypervisor finds it by UUID, never by name.
    public var guestUUID: String
    /// The guest's name, for messages and the destination XML.
    public var guestName: String
    /// The host the guest is on now.
    public var source: HostEndpoint
    /// The host it goes to.
    public var target: HostEndpoint
    /// How this guest moves: the step's mode (a stopped guest moves offline under a live plan),
    /// kept in `options` as its only copy.
    public var mode: MigrationOptions.Mode {
        get { options.mode }
        set { options.mode = newValue }
    }
    /// The run's migration options, with `mode` the step's.
    public var options: MigrationOptions
    /// Target devices of local disks to copy (storage copy); empty = shared storage only.
    public var copyStorage: [String]
    /// Bridge/network renames to write into the destination XML.
    public var bridgeMap: [String: String]
    /// A request; `mode` overrides `options.mode` (a step's own mode, e.g. offline for a guest
    /// that is shut off under a live plan).
    public init(
        guestUUID: String, guestName: String, source: HostEndpoint, target: HostEndpoint,
        mode: MigrationOptions.Mode, options: MigrationOptions, copyStorage: [String] = [],
        bridgeMap: [String: String] = [:]
    ) {
        self.guestUUID = guestUUID
        self.guestName = guestName
        self.source = source
        self.target = target
        self.options = options
        self.options.mode = mode
        self.copyStorage = copyStorage
        self.bridgeMap = bridgeMap
    }
}

/// One sample of a running migration's job statistics, in libvirt's terms: `data*` is memory
/// and disks together (`virDomainGetJobStats`'s `data_*`), `memory*` and `disk*` the parts.
/// Samples from older recorders lack the parts (decoded as 0): readers then treat `data*` as memory.
public struct MigrationProgress: Hashable, Sendable, Codable {
    /// Time since the job started.
    public var elapsedMs: UInt64
    /// Bytes to send in all (`data_total`): memory and copied disks.
    public var dataTotal: UInt64
    /// Bytes sent so far, retransmitted dirty pages included (so it may pass `dataTotal`).
    public var dataProcessed: UInt64
    /// Bytes still to send now: memory not yet sent or dirtied since, plus disk not yet copied.
    public var dataRemaining: UInt64
    /// Bytes per second of memory transfer.
    public var memoryBps: UInt64
    /// Memory iteration (pass) number as libvirt's `memory_iteration` counts it: 1 during the
    /// first pass, 2 once the first pass is complete and dirtied pages are sent again.
    public var iteration: UInt64
    /// Pages dirtied per second.
    public var dirtyRate: UInt64
    /// Guest memory in bytes (`memory_total`); 0 before the memory copy began (a storage copy
    /// goes first).
    public var memoryTotal: UInt64 = 0
    /// Memory bytes sent (`memory_processed`), retransmissions included.
    public var memoryProcessed: UInt64 = 0
    /// Memory bytes still to send (`memory_remaining`), what was dirtied since included.
    public var memoryRemaining: UInt64 = 0
    /// Pages sent as "all one byte" (`memory_constant`, mostly zero pages): they cost a few
    /// bytes on the wire each, so an idle guest's `memoryProcessed` barely moves while its
    /// memory is in fact being covered.
    public var memoryConstantPages: UInt64 = 0
    /// The guest's page size in bytes (`memory_page_size`); 0 when not reported.
    public var pageSize: UInt64 = 0
    /// Disk bytes to copy (`disk_total`, storage copy only).
    public var diskTotal: UInt64 = 0
    /// Disk bytes copied (`disk_processed`).
    public var diskProcessed: UInt64 = 0
    /// Disk bytes still to copy (`disk_remaining`).
    public var diskRemaining: UInt64 = 0
    /// Bytes per second of disk copy (`disk_bps`).
    public var diskBps: UInt64 = 0
    /// A sample with the aggregate figures; the per-part figures are set after it when known.
    public init(
        elapsedMs: UInt64 = 0, dataTotal: UInt64 = 0, dataProcessed: UInt64 = 0, dataRemaining: UInt64 = 0,
        memoryBps: UInt64 = 0, iteration: UInt64 = 0, dirtyRate: UInt64 = 0
    ) {
        self.elapsedMs = elapsedMs
        self.dataTotal = dataTotal
        self.dataProcessed = dataProcessed
        self.dataRemaining = dataRemaining
        self.memoryBps = memoryBps
        self.iteration = iteration
        self.dirtyRate = dirtyRate
    }
    /// Bytes sent over bytes to send, as libvirt's counters give them: it reaches 100 while a
    /// dirtying guest still has retransmissions left, and stays near 0 for an idle guest whose
    /// pages are zero. The live display uses `MigrationGauge` instead.
    public var percent: Double { dataTotal == 0 ? 0 : min(100, Double(dataProcessed) / Double(dataTotal) * 100) }

    private enum CodingKeys: String, CodingKey {
        case elapsedMs, dataTotal, dataProcessed, dataRemaining, memoryBps, iteration, dirtyRate
        case memoryTotal, memoryProcessed, memoryRemaining, memoryConstantPages, pageSize
        case diskTotal, diskProcessed, diskRemaining, diskBps
    }

    /// Decodes a stored sample; a figure a sample lacks (an older recorder's) is 0.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func n(_ k: CodingKeys) throws -> UInt64 { try c.decodeIfPresent(UInt64.self, forKey: k) ?? 0 }
        self.init(
            elapsedMs: try n(.elapsedMs), dataTotal: try n(.dataTotal), dataProcessed: try n(.dataProcessed),
            dataRemaining: try n(.dataRemaining), memoryBps: try n(.memoryBps), iteration: try n(.iteration),
            dirtyRate: try n(.dirtyRate))
        memoryTotal = try n(.memoryTotal)
        memoryProcessed = try n(.memoryProcessed)
        memoryRemaining = try n(.memoryRemaining)
        memoryConstantPages = try n(.memoryConstantPages)
        pageSize = try n(.pageSize)
        diskTotal = try n(.diskTotal)
        diskProcessed = try n(.diskProcessed)
        diskRemaining = try n(.diskRemaining)
        diskBps = try n(.diskBps)
    }
}

/// How a completed migration went, from libvirt's job statistics.
public struct MigrationOutcome: Hashable, Sendable, Codable {
    /// From the start of the job to its completion.
    public var durationMs: UInt64
    /// The guest's pause at the switch-over; nil when libvirt did not report it.
    public var downtimeMs: UInt64?
    /// Bytes sent over the network in all.
    public var transferredBytes: UInt64
    /// Final job statistics as libvirt named them (from the JOB_COMPLETED event).
    public var stats: [String: String]
    /// An outcome; the optional figures default to not reported.
    public init(
        durationMs: UInt64, downtimeMs: UInt64? = nil, transferredBytes: UInt64 = 0, stats: [String: String] = [:]
    ) {
        self.durationMs = durationMs
        self.downtimeMs = downtimeMs
        self.transferredBytes = transferredBytes
        self.stats = stats
    }
}

/// A failed hypervisor call: what kind of failure, on which host, and libvirt's own report.
public struct HypervisorError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, in terms the executor acts on (retry, block, report).
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        /// The host could not be reached: connection refused, no answer within the deadline
        /// (a frozen daemon), or the connection to it died.
        case unreachable
        case guestNotFound = "guest-not-found"
        case migrationFailed = "migration-failed"
        /// The job was aborted (cancellation, timeout, `virsh domjobabort`); the guest is on its source.
        case aborted
        case unsupported
        /// A connection a host itself used died (the source daemon lost its peer-to-peer link
        /// to the target): the host answered, the operation did not happen.
        case connectionLost = "connection-lost"
        /// The target had no free port for the incoming migration stream.
        case noMigrationPort = "no-migration-port"
        case cpuIncompatible = "cpu-incompatible"
        /// The target could not give the guest its memory.
        case noRoom = "no-room"
        case authFailed = "auth-failed"
        /// The host answered that it timed out, e.g. waiting for a job holding the guest.
        case timeout
        /// Not waited for: the operator stopped the run.
        case interrupted
        case other

        /// Failures that leave the guest on its source and may well not happen again: worth
        /// another attempt under the plan's retry policy. Everything else is not retried
        /// (CPU incompatible, no room and a missing guest stay so; unreachable leaves the
        /// outcome of a migration unknown, which only a reconcile can tell).
        public var isTransient: Bool { self == .connectionLost || self == .noMigrationPort || self == .timeout }
    }

    /// The hypervisor library's own report, as it gave it: for libvirt the failed call, its
    /// `virErrorNumber`, `virErrorDomain` and message. Kept in the journal and shown.
    public struct Origin: Hashable, Sendable, Codable {
        /// The library call that failed (`virDomainMigrateToURI3`).
        public var call: String
        /// The error number (`virErrorNumber`).
        public var code: Int32
        /// The error domain (`virErrorDomain`).
        public var domain: Int32
        /// The library's message, unedited.
        public var message: String
        /// libvirt's report of a failed `call`.
        public init(call: String, code: Int32, domain: Int32, message: String) {
            self.call = call
            self.code = code
            self.domain = domain
            self.message = message
        }
    }

    /// How the executor treats it (retry, block, report).
    public var kind: Kind
    /// The host the call was made on.
    public var host: String
    /// The URI it was reached by.
    public var uri: String
    /// What happened, in words for the step's reason.
    public var message: String
    /// The library's own report; nil for failures evac itself detected (a deadline).
    public var origin: Origin?
    /// An error of `kind` on `host`, with the library's report when it has one.
    public init(_ kind: Kind, host: String, uri: String, _ message: String, origin: Origin? = nil) {
        self.kind = kind
        self.host = host
        self.uri = uri
        self.message = message
        self.origin = origin
    }
    /// "host (uri): message", for logs and reasons.
    public var description: String { "\(host) (\(uri)): \(message)" }

    /// What the journal keeps of it (`events.libvirt_error`): one JSON object with sorted keys,
    /// the kind, host and message, and the library's own call, code, domain and message.
    public var journalRecord: String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? e.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? message
    }
}

extension HypervisorError: Codable {}
