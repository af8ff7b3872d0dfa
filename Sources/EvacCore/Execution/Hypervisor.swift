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
    /// Memory iteration (pass) number as libvirt's `memory_iteration` counts it: 1 during the
    /// first pass, 2 once the first pass is complete and dirtied pages are sent again.
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
        public var call: String
        public var code: Int32
        public var domain: Int32
        public var message: String
        public init(call: String, code: Int32, domain: Int32, message: String) {
            self.call = call
            self.code = code
            self.domain = domain
            self.message = message
        }
    }

    public var kind: Kind
    public var host: String
    public var uri: String
    public var message: String
    public var origin: Origin?
    public init(_ kind: Kind, host: String, uri: String, _ message: String, origin: Origin? = nil) {
        self.kind = kind
        self.host = host
        self.uri = uri
        self.message = message
        self.origin = origin
    }
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
