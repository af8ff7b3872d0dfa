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
}

public struct HostEndpoint: Hashable, Sendable, Codable {
    public var name: String
    public var uri: String
    /// Where the migration data stream goes when this host is the target (libvirt's
    /// `migrate_uri`, e.g. `tcp://10.0.0.5`); nil = the hypervisor's default (the target's
    /// hostname). Needed when the hostname does not resolve to the migration network, and for
    /// several daemons on one machine (`tcp://127.0.0.1`).
    public var migrateURI: String?
    public init(name: String, uri: String, migrateURI: String? = nil) {
        self.name = name
        self.uri = uri
        self.migrateURI = migrateURI
    }
}

public enum GuestPresence: Hashable, Sendable {
    case absent
    case present(state: Guest.State, persistent: Bool)
}

public enum CPUVerdict: String, Hashable, Sendable, Codable { case identical, superset, incompatible }

public struct MigrationRequest: Hashable, Sendable {
    public var guestUUID: String
    public var guestName: String
    public var source: HostEndpoint
    public var target: HostEndpoint
    public var mode: MigrationOptions.Mode
    public var options: MigrationOptions
    /// Target devices of local disks to copy (storage copy); empty = shared storage only.
    public var copyStorage: [String]
    /// Bridge/network renames to write into the destination XML.
    public var bridgeMap: [String: String]
    public init(
        guestUUID: String, guestName: String, source: HostEndpoint, target: HostEndpoint,
        mode: MigrationOptions.Mode, options: MigrationOptions, copyStorage: [String] = [],
        bridgeMap: [String: String] = [:]
    ) {
        self.guestUUID = guestUUID
        self.guestName = guestName
        self.source = source
        self.target = target
        self.mode = mode
        self.options = options
        self.copyStorage = copyStorage
        self.bridgeMap = bridgeMap
    }
}

/// One sample of a running migration's job statistics.
public struct MigrationProgress: Hashable, Sendable, Codable {
    public var elapsedMs: UInt64
    public var dataTotal: UInt64
    public var dataProcessed: UInt64
    public var dataRemaining: UInt64
    /// Bytes per second of memory transfer.
    public var memoryBps: UInt64
    /// Memory iteration (pass) number; 0 before the first pass completes.
    public var iteration: UInt64
    /// Pages dirtied per second.
    public var dirtyRate: UInt64
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
    public var percent: Double { dataTotal == 0 ? 0 : min(100, Double(dataProcessed) / Double(dataTotal) * 100) }
}

public struct MigrationOutcome: Hashable, Sendable, Codable {
    public var durationMs: UInt64
    public var downtimeMs: UInt64?
    public var transferredBytes: UInt64
    /// Final job statistics as libvirt named them (from the JOB_COMPLETED event).
    public var stats: [String: String]
    public init(
        durationMs: UInt64, downtimeMs: UInt64? = nil, transferredBytes: UInt64 = 0, stats: [String: String] = [:]
    ) {
        self.durationMs = durationMs
        self.downtimeMs = downtimeMs
        self.transferredBytes = transferredBytes
        self.stats = stats
    }
}

public struct HypervisorError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable, Codable {
        /// The host could not be reached (connection refused, daemon down).
        case unreachable
        case guestNotFound = "guest-not-found"
        case migrationFailed = "migration-failed"
        /// The job was aborted on request (cancellation, timeout); the guest is on its source.
        case aborted
        case unsupported
        case other
    }
    public var kind: Kind
    public var host: String
    public var uri: String
    public var message: String
    public init(_ kind: Kind, host: String, uri: String, _ message: String) {
        self.kind = kind
        self.host = host
        self.uri = uri
        self.message = message
    }
    public var description: String { "\(host) (\(uri)): \(message)" }
}
