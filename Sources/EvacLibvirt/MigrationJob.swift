import CLibvirt
import EvacCore
import Foundation

/// One running migration. `run` blocks its (dedicated) thread inside `virDomainMigrateToURI3`
/// while a poller thread samples job statistics every `pollInterval` and, once `cancel` was
/// called, aborts the job (retrying until the job exists, so a cancel that races the start of
/// the migration still lands).
///
/// The migrate call runs on a connection borrowed for it alone; statistics, abort and the
/// JOB_COMPLETED event use `domain`, on the host's shared connection (see `ConnectionCache`
/// for why a call that blocks for the whole migration must not share a connection).
final class MigrationJob: @unchecked Sendable {
    private let domain: LibvirtDomain
    private let connections: ConnectionCache
    private let request: MigrationRequest
    private let progress: @Sendable (MigrationProgress) -> Void
    private let pollInterval: TimeInterval
    private let completedEventWait: TimeInterval

    private let lock = NSLock()
    private var cancelled = false
    private var finished = false
    private var lastStats: [String: String] = [:]
    /// Wakes the poller early (cancel, end of migration).
    private let wake = DispatchSemaphore(value: 0)

    init(
        domain: LibvirtDomain, connections: ConnectionCache, request: MigrationRequest, pollInterval: TimeInterval,
        completedEventWait: TimeInterval, progress: @escaping @Sendable (MigrationProgress) -> Void
    ) {
        self.domain = domain
        self.connections = connections
        self.request = request
        self.pollInterval = pollInterval
        self.completedEventWait = completedEventWait
        self.progress = progress
    }

    /// Non-blocking: safe to call from a cancellation handler on any thread.
    func cancel() {
        lock.withLock { cancelled = true }
        wake.signal()
    }

    private var isCancelled: Bool { lock.withLock { cancelled } }

    /// Blocking. Never throws: failures come back as `HypervisorError` values.
    func run() -> Result<MigrationOutcome, HypervisorError> {
        let source = request.source
        let started = Date()
        do throws(LibvirtError) {
            let destXML =
                request.bridgeMap.isEmpty
                ? nil
                : BridgeRewrite.apply(request.bridgeMap, to: try domain.migratableXML())
            let settings = MigrationSettings(request, destinationXML: destXML)
            let params = try settings.typedParams()
            // 9.0 has no migration parameter for max downtime; the call works before the job
            // starts on QEMU (it sets the downtime-limit migration parameter). If the driver
            // refuses, the poller retries once the job runs.
            var downtimePending = request.mode == .live
            if downtimePending, (try? domain.setMaxDowntime(milliseconds: request.options.maxDowntimeMs)) != nil {
                downtimePending = false
            }
            let watch = try JobCompletedWatch(domain)
            if isCancelled { return .failure(aborted("cancelled before the migration started")) }

            let lent: LibvirtConnection
            do throws(LibvirtError) { lent = try connections.borrow(source.uri) } catch {
                return .failure(
                    HypervisorError(.unreachable, host: source.name, uri: redactURI(source.uri), error.description))
            }
            defer { connections.giveBack(source.uri, lent) }
            guard let migrating = try lent.domain(uuid: request.guestUUID) else {
                return .failure(
                    HypervisorError(
                        .guestNotFound, host: source.name, uri: redactURI(source.uri),
                        "no domain with UUID \(request.guestUUID) (\(request.guestName))"))
            }

            let pollerDone = DispatchSemaphore(value: 0)
            let setDowntimeInPoller = downtimePending
            let poller = Thread { [self] in
                poll(downtimePending: setDowntimeInPoller)
                pollerDone.signal()
            }
            poller.name = "evac.libvirt.migrate-poll.\(request.guestName)"
            poller.start()

            let result = Result { () throws(LibvirtError) in
                try migrating.migrateToURI3(request.target.uri, params: params, flags: settings.flags)
            }
            lock.withLock { finished = true }
            wake.signal()
            pollerDone.wait()

            switch result {
            case .success:
                // A cancel that came too late to abort leaves the guest on the target: report
                // the truth (success) rather than `.aborted`.
                let returned = Date()
                let event = watch.stats(waitingUpTo: completedEventWait)
                var stats = event ?? lock.withLock { lastStats }
                // Kept with the step's statistics: how long the final figures cost, and where
                // they came from (the event, or the last poll when it did not come in time).
                stats["evac.final_stats"] = event == nil ? "last-poll" : "job-completed-event"
                stats["evac.final_stats_wait_ms"] = String(UInt64(Date().timeIntervalSince(returned) * 1000))
                return .success(outcome(stats, wallMs: UInt64(returned.timeIntervalSince(started) * 1000)))
            case .failure(let error):
                if isCancelled || error.isOperationAborted { return .failure(aborted(error.message)) }
                return .failure(
                    HypervisorError(
                        error.isNoDomain ? .guestNotFound : .migrationFailed,
                        host: source.name, uri: redactURI(source.uri), error.description))
            }
        } catch {
            return .failure(
                HypervisorError(.migrationFailed, host: source.name, uri: redactURI(source.uri), error.description))
        }
    }

    private func poll(downtimePending: Bool) {
        var downtimePending = downtimePending
        var abortSent = false
        while true {
            _ = wake.wait(timeout: .now() + pollInterval)
            let (done, cancel) = lock.withLock { (finished, cancelled) }
            if done { return }
            if cancel && !abortSent {
                // Fails with "no job" if the migration has not started yet: retry next tick.
                abortSent = (try? domain.abortJob()) != nil
            }
            guard let (type, stats) = try? domain.jobStats(), type != VIR_DOMAIN_JOB_NONE.rawValue else { continue }
            if downtimePending {
                downtimePending = (try? domain.setMaxDowntime(milliseconds: request.options.maxDowntimeMs)) == nil
            }
            lock.withLock { lastStats = stats }
            progress(MigrationProgress(stats: stats))
        }
    }

    private func aborted(_ detail: String) -> HypervisorError {
        HypervisorError(
            .aborted, host: request.source.name, uri: redactURI(request.source.uri),
            "migration of \(request.guestName) aborted; the guest stays on its source: \(detail)")
    }

    private func outcome(_ stats: [String: String], wallMs: UInt64) -> MigrationOutcome {
        MigrationOutcome(
            durationMs: stats.number(VIR_DOMAIN_JOB_TIME_ELAPSED) ?? wallMs,
            downtimeMs: stats.number(VIR_DOMAIN_JOB_DOWNTIME),
            transferredBytes: stats.number(VIR_DOMAIN_JOB_DATA_PROCESSED) ?? 0,
            stats: stats)
    }
}

extension MigrationProgress {
    /// A progress sample from libvirt's job statistics (missing fields read as 0).
    init(stats s: [String: String]) {
        self.init(
            elapsedMs: s.number(VIR_DOMAIN_JOB_TIME_ELAPSED) ?? 0,
            dataTotal: s.number(VIR_DOMAIN_JOB_DATA_TOTAL) ?? 0,
            dataProcessed: s.number(VIR_DOMAIN_JOB_DATA_PROCESSED) ?? 0,
            dataRemaining: s.number(VIR_DOMAIN_JOB_DATA_REMAINING) ?? 0,
            memoryBps: s.number(VIR_DOMAIN_JOB_MEMORY_BPS) ?? 0,
            iteration: s.number(VIR_DOMAIN_JOB_MEMORY_ITERATION) ?? 0,
            dirtyRate: s.number(VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE) ?? 0)
    }
}

extension Dictionary where Key == String, Value == String {
    func number(_ key: String) -> UInt64? { self[key].flatMap { UInt64($0) } }
}
