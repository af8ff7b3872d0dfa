import EvacCore
import Foundation

/// The executor's view of real hosts, through libvirt's C API.
///
/// Keeps one connection per URI (opened on first use, reopened when it died) and runs every
/// libvirt call on a dedicated thread, never on Swift's cooperative pool. A migration holds
/// two threads for its whole duration: the blocking migrate call (on a connection of its own)
/// and a statistics poller.
public final class LibvirtHypervisor: Hypervisor {
    private let connections = ConnectionCache()
    private let domainCapabilities = DomainCapabilitiesCache()
    private let hostParts = HostPartCache()
    /// How often a running migration's statistics are sampled (and a pending abort retried).
    let pollInterval: TimeInterval
    /// How long to wait, after the migrate call returned, for the JOB_COMPLETED event.
    let completedEventWait: TimeInterval

    public init(pollInterval: TimeInterval = 0.5, completedEventWait: TimeInterval = 2) {
        self.pollInterval = pollInterval
        self.completedEventWait = completedEventWait
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
            guard let dom = try c.domain(uuid: guestUUID) else {
                throw LibvirtError(
                    code: 42, domain: 0, message: "no domain with UUID \(guestUUID)", uri: c.uri,
                    operation: "virDomainLookupByUUIDString")
            }
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
        let job = try await onHost(request.source, "migrate-prepare") { c throws(LibvirtError) -> MigrationJob in
            guard let dom = try c.domain(uuid: request.guestUUID) else {
                throw LibvirtError(
                    code: 42, domain: 0, message: "no domain with UUID \(request.guestUUID) (\(request.guestName))",
                    uri: c.uri, operation: "virDomainLookupByUUIDString")
            }
            return MigrationJob(
                domain: dom, connections: connections, request: request, pollInterval: pollInterval,
                completedEventWait: completedEventWait, progress: progress)
        }
        let started = LibvirtLog.start()
        let result = await withTaskCancellationHandler {
            await LibvirtRuntime.blocking("evac.libvirt.migrate.\(request.guestName)") { job.run() }
        } onCancel: {
            job.cancel() // non-blocking: the job's poller thread calls virDomainAbortJob
        }
        LibvirtLog.migration(request, since: started, result: result)
        return try result.get()
    }

    public func startPostCopy(guestUUID: String, source: HostEndpoint) async throws(HypervisorError) {
        try await onHost(source, "start-post-copy") { c throws(LibvirtError) in
            guard let dom = try c.domain(uuid: guestUUID) else {
                throw LibvirtError(
                    code: 42, domain: 0, message: "no domain with UUID \(guestUUID)", uri: c.uri,
                    operation: "virDomainLookupByUUIDString")
            }
            try dom.startPostCopy()
        }
    }

    /// Runs `body` with the host's cached connection on a dedicated thread, and maps libvirt
    /// errors (read on that thread) to `HypervisorError`s naming the host and its URI.
    private func onHost<T: Sendable>(
        _ host: HostEndpoint, _ what: String,
        _ body: @escaping @Sendable (LibvirtConnection) throws(LibvirtError) -> T
    ) async throws(HypervisorError) -> T {
        let connections = connections
        let started = LibvirtLog.start()
        let result = await LibvirtRuntime.blocking("evac.libvirt.\(what).\(host.name)") {
            () -> Result<T, HypervisorError> in
            let c: LibvirtConnection
            do throws(LibvirtError) { c = try connections.connection(host.uri) } catch {
                return .failure(
                    HypervisorError(.unreachable, host: host.name, uri: redactURI(host.uri), error.description))
            }
            do throws(LibvirtError) { return .success(try body(c)) } catch {
                if !c.isAlive {
                    connections.drop(host.uri, c)
                    return .failure(HypervisorError(.unreachable, host: host.name, uri: c.uri, error.description))
                }
                return .failure(HypervisorError(Self.kind(of: error), host: host.name, uri: c.uri, error.description))
            }
        }
        LibvirtLog.operation(what, host: host.name, since: started, failure: result.failure)
        return try result.get()
    }

    private static func kind(of error: LibvirtError) -> HypervisorError.Kind {
        if error.isNoDomain { return .guestNotFound }
        if error.isNoSupport { return .unsupported }
        if error.isOperationAborted { return .aborted }
        return .other
    }
}
