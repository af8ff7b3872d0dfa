import EvacCore
import Foundation

/// The executor's view of real hosts, through libvirt's C API.
///
/// Keeps one connection per URI (opened on first use, reopened when it died) and runs every
/// libvirt call on a dedicated thread, never on Swift's cooperative pool, waiting for it under
/// the plan's deadlines: a host that does not connect within the connect timeout, or leaves a
/// call unanswered for the call timeout, is reported unreachable (and its connection dropped).
/// A migration holds two threads for its whole duration: the blocking migrate call (on a
/// connection of its own, bounded by libvirt's keepalive and the executor's timeouts) and a
/// statistics poller.
public final class LibvirtHypervisor: Hypervisor {
    private let connections: ConnectionCache
    private let domainCapabilities = DomainCapabilitiesCache()
    private let hostParts = HostPartCache()
    let settings: ConnectionSettings
    /// How often a running migration's statistics are sampled (and a pending abort retried).
    let pollInterval: TimeInterval
    /// How long to wait, after the migrate call returned, for the JOB_COMPLETED event.
    let completedEventWait: TimeInterval

    public init(
        settings: ConnectionSettings = ConnectionSettings(), pollInterval: TimeInterval = 0.5,
        completedEventWait: TimeInterval = 2
    ) {
        self.settings = settings
        self.pollInterval = pollInterval
        self.completedEventWait = completedEventWait
        connections = ConnectionCache(settings: settings)
    }

    public func locate(guestUUID: String, on host: HostEndpoint) async throws(HypervisorError) -> GuestPresence {
        try await onHost(host, "locate") { c throws(LibvirtError) in
            do throws(LibvirtError) {
                guard let dom = try c.domain(uuid: guestUUID) else { return .absent }
                return try dom.settled { () throws(LibvirtError) in
                    .present(state: HostReader.guestState(try dom.state()), persistent: try dom.isPersistent())
                }
            } catch  where error.isNoDomain {
                return .absent // undefined between look-up and query
            }
        }
    }

    public func activeJob(guestUUID: String, on host: HostEndpoint) async throws(HypervisorError) -> GuestJob? {
        try await onHost(host, "job") { c throws(LibvirtError) -> GuestJob? in
            do throws(LibvirtError) {
                guard let dom = try c.domain(uuid: guestUUID) else { return nil }
                // An inactive guest runs no job; libvirt refuses the query for it.
                guard HostReader.guestState(try dom.state()).isActive else { return nil }
                return try dom.activeJob()
            } catch  where error.isNoDomain {
                return nil // undefined between look-up and query
            }
        }
    }

    public func inspect(_ host: HostEndpoint) async throws(HypervisorError) -> HostInventory {
        let parts = hostParts
        return try await onHost(host, "inspect") { c throws(LibvirtError) in
            let part = try parts.get(uri: c.uri) { () throws(LibvirtError) in
                try HostReader.hostPart(name: host.name, connection: c)
            }
            return try HostReader.read(name: host.name, connection: c, hostPart: part)
        }
    }

    public func compareCPU(
        guestUUID: String, source: HostEndpoint, target: HostEndpoint
    ) async throws(HypervisorError) -> CPUVerdict? {
        let cache = domainCapabilities
        let input = try await onHost(source, "cpu-definition") { c throws(LibvirtError) -> CPUComparison.Input? in
            let dom = try c.requireDomain(uuid: guestUUID)
            do throws(LibvirtError) {
                return try CPUComparison.input(domainXML: try dom.liveXML()) { () throws(LibvirtError) in
                    let xml = try dom.liveXML()
                    let root = try? XMLTree.parse(xml)
                    let arch = root?.first("os/type")?.attr("arch")
                    let virtType = root?.attr("type")
                    return try cache.get(uri: c.uri, arch: arch, virtType: virtType) { () throws(LibvirtError) in
                        try c.domainCapabilitiesXML(arch: arch, virtType: virtType)
                    }
                }
            } catch  where error.isNoSupport { return nil }
        }
        guard let input else { return nil }
        return try await onHost(target, "cpu-compare") { c throws(LibvirtError) -> CPUVerdict? in
            do throws(LibvirtError) {
                return CPUComparison.verdict(
                    try c.compareHypervisorCPU(arch: input.arch, virtType: input.virtType, cpuXML: input.cpuXML))
            } catch  where error.isNoSupport { return nil } // e.g. the test driver
        }
    }

    public func migrate(
        _ request: MigrationRequest, progress: @escaping @Sendable (MigrationProgress) -> Void
    ) async throws(HypervisorError) -> MigrationOutcome {
        let (pollInterval, completedEventWait, connections) = (pollInterval, completedEventWait, connections)
        let targetWatch = connections.cached(request.target.uri)
        let job = try await onHost(request.source, "migrate-prepare") { c throws(LibvirtError) -> MigrationJob in
            let dom = try c.requireDomain(uuid: request.guestUUID, name: request.guestName)
            return try MigrationJob(
                domain: dom, request: request, targetWatch: targetWatch, pollInterval: pollInterval,
                completedEventWait: completedEventWait, progress: progress)
        }
        // The migrate call's own connection, opened (or taken from the idle ones) under the deadlines.
        let source = request.source
        let lent: (LibvirtConnection, LibvirtDomain)
        do throws(HypervisorError) {
            lent = try await waitFor(source, "migrate-connect") { () throws(LibvirtError) in
                let lent = try connections.borrow(source.uri)
                let migrating = try lent.requireDomain(uuid: request.guestUUID, name: request.guestName)
                return (lent, migrating)
            }
        } catch {
            job.discard()
            throw error
        }
        let started = LibvirtLog.start()
        // After an abort, the source daemon gets the call timeout to end the migration.
        let grace = TimeInterval(settings.callTimeoutMs) / 1000
        let result = await withTaskCancellationHandler {
            await LibvirtRuntime.blocking(
                "evac.libvirt.migrate.\(request.guestName)", giveUp: { job.stuck(grace: grace) }
            ) {
                defer { connections.giveBack(source.uri, lent.0) }
                return job.run(on: lent.0, lent.1)
            }
        } onCancel: {
            job.cancel() // non-blocking: the job's poller thread calls virDomainAbortJob
        }
        LibvirtLog.migration(request, since: started, result: result)
        return try result.get()
    }

    public func startPostCopy(guestUUID: String, source: HostEndpoint) async throws(HypervisorError) {
        try await onHost(source, "start-post-copy") { c throws(LibvirtError) in
            try c.requireDomain(uuid: guestUUID).startPostCopy()
        }
    }

    public func setMaxDowntime(
        guestUUID: String, source: HostEndpoint, milliseconds: UInt64
    ) async throws(HypervisorError) {
        try await onHost(source, "set-max-downtime") { c throws(LibvirtError) in
            try c.requireDomain(uuid: guestUUID).setMaxDowntime(milliseconds: milliseconds)
        }
    }

    public func shutdown(guestUUID: String, on host: HostEndpoint) async throws(HypervisorError) {
        try await onHost(host, "shutdown") { c throws(LibvirtError) in try c.requireDomain(uuid: guestUUID).shutdown() }
    }

    public func destroy(guestUUID: String, on host: HostEndpoint) async throws(HypervisorError) {
        try await onHost(host, "destroy") { c throws(LibvirtError) in try c.requireDomain(uuid: guestUUID).destroy() }
    }

    public func start(guestUUID: String, on host: HostEndpoint) async throws(HypervisorError) {
        try await onHost(host, "start") { c throws(LibvirtError) in try c.requireDomain(uuid: guestUUID).start() }
    }

    public func undefine(guestUUID: String, on host: HostEndpoint) async throws(HypervisorError) {
        try await onHost(host, "undefine") { c throws(LibvirtError) in try c.requireDomain(uuid: guestUUID).undefine() }
    }

    /// Runs `body` with the host's cached connection on a dedicated thread under the
    /// deadlines, and maps libvirt errors (read on that thread) to `HypervisorError`s naming
    /// the host and its URI.
    private func onHost<T: Sendable>(
        _ host: HostEndpoint, _ what: String,
        _ body: @escaping @Sendable (LibvirtConnection) throws(LibvirtError) -> T
    ) async throws(HypervisorError) -> T {
        let connections = connections
        return try await waitFor(host, what) { () throws(LibvirtError) -> T in
            let c: LibvirtConnection
            do throws(LibvirtError) { c = try connections.connection(host.uri) } catch {
                throw error.reachingTheHost()
            }
            do throws(LibvirtError) { return try body(c) } catch {
                if !c.isAlive {
                    connections.drop(host.uri, c)
                    throw error.reachingTheHost()
                }
                throw error
            }
        }
    }

    /// Waits for `body` under the deadlines. A host that did not answer in time loses its
    /// cached connection: calls queued behind the stuck one would wait for it too.
    private func waitFor<T: Sendable>(
        _ host: HostEndpoint, _ what: String,
        _ body: @escaping @Sendable () throws(LibvirtError) -> T
    ) async throws(HypervisorError) -> T {
        let started = LibvirtLog.start()
        let waited = await LibvirtRuntime.waiting(
            "evac.libvirt.\(what).\(host.name)",
            connectLimit: .milliseconds(settings.connectTimeoutMs),
            callLimit: .milliseconds(settings.callTimeoutMs)
        ) {
            Result { () throws(LibvirtError) -> T in try body() }
        }
        switch waited.result(uri: redactURI(host.uri)) {
        case .success(let value):
            LibvirtLog.operation(what, host: host.name, since: started, failure: nil)
            return value
        case .failure(let error):
            if error.kind == .noAnswer { connections.drop(host.uri) }
            let failure = HypervisorError(
                libvirt: error, host: host, kind: error.kind == .noAnswer || error.hostUnreachable ? .unreachable : nil)
            LibvirtLog.operation(what, host: host.name, since: started, failure: failure)
            throw failure
        }
    }
}

extension HypervisorError {
    /// A libvirt error as the executor sees it: the kind (given, or from libvirt's own), the
    /// host and URI, and libvirt's call, code, domain and message as the origin.
    init(libvirt e: LibvirtError, host: HostEndpoint, kind: Kind? = nil) {
        let operation = e.operation
        let origin = e.code.map {
            HypervisorError.Origin(call: operation, code: $0, domain: e.domain ?? 0, message: e.message)
        }
        let number = e.code.map { " (libvirt error \($0), domain \(e.domain ?? 0))" } ?? ""
        self.init(
            kind ?? Self.kind(of: e), host: host.name, uri: redactURI(host.uri), "\(operation): \(e.message)\(number)",
            origin: origin)
    }

    static func kind(of e: LibvirtError) -> Kind {
        switch e.kind {
        case .noDomain: return .guestNotFound
        case .noSupport: return .unsupported
        case .aborted: return .aborted
        case .connectionLost: return .connectionLost
        case .noMigrationPort: return .noMigrationPort
        case .cpuIncompatible: return .cpuIncompatible
        case .noMemory: return .noRoom
        case .authFailed: return .authFailed
        case .timeout: return .timeout
        case .noAnswer: return .unreachable
        case .interrupted: return .interrupted
        case .operationInvalid, .xml, .other: return .other
        }
    }
}
