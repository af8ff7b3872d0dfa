internal import CLibvirt
import EvacCore
import Foundation

/// One running migration. Prepared on the host's shared connection (destination XML,
/// parameters, max downtime, the JOB_COMPLETED watch) under the deadlines; `run` then blocks
/// its (dedicated) thread inside `virDomainMigrateToURI3` on a connection borrowed for it alone,
/// while a poller thread samples job statistics every `pollInterval` and, once `cancel` was
/// called, aborts the job (retrying until the job exists, so a cancel that races the start of
/// the migration still lands). Statistics, abort and the event use `domain`, on the shared
/// connection (see `ConnectionCache` for why a call that blocks for the whole migration must
/// not share one).
final class MigrationJob: @unchecked Sendable {
    private let domain: LibvirtDomain
    private let request: MigrationRequest
    private let progress: @Sendable (MigrationProgress) -> Void
    private let pollInterval: TimeInterval
    private let completedEventWait: TimeInterval
    private let params: TypedParams
    private let flags: UInt32
    private let downtimePending: Bool
    private let watch: JobCompletedWatch

    /// evac's own connection to the target (the pre-check's), watched for liveness: libvirt's
    /// keepalive closes it when the target stops answering, which the source daemon may be
    /// slow to notice, or never (it waits without a deadline while it connects to the target).
    private let targetWatch: LibvirtConnection?

    private let lock = NSLock()
    private var cancelled = false
    /// When the abort was first asked for (cancel, or the target found dead).
    private var abortAskedAt: Date?
    private var targetLost = false
    private var finished = false
    private var lastStats: [String: String] = [:]
    /// Wakes the poller early (cancel, end of migration).
    private let wake = DispatchSemaphore(value: 0)

    /// Blocking: reads and sets what the migrate call needs. Run it under the deadlines.
    init(
        domain: LibvirtDomain, request: MigrationRequest, targetWatch: LibvirtConnection?, pollInterval: TimeInterval,
        completedEventWait: TimeInterval, progress: @escaping @Sendable (MigrationProgress) -> Void
    ) throws(LibvirtError) {
        self.domain = domain
        self.request = request
        self.targetWatch = targetWatch
        self.pollInterval = pollInterval
        self.completedEventWait = completedEventWait
        self.progress = progress
        var destXML: String?
        var persistXML: String?
        if !request.bridgeMap.isEmpty {
            destXML = BridgeRewrite.apply(request.bridgeMap, to: try domain.migratableXML())
            // The definition the target saves is a separate document: rename its bridges too.
            let persistent = try domain.isPersistent()
            persistXML =
                persistent
                ? BridgeRewrite.apply(request.bridgeMap, to: try domain.migratableXML(inactive: true)) : destXML
        }
        let settings = MigrationSettings(request, destinationXML: destXML, persistentXML: persistXML)
        params = try settings.typedParams()
        flags = settings.flags
        // 9.0 has no migration parameter for max downtime; the call works before the job
        // starts on QEMU (it sets the downtime-limit migration parameter). If the driver
        // refuses, the poller retries once the job runs.
        downtimePending =
            request.mode == .live && (try? domain.setMaxDowntime(milliseconds: request.options.maxDowntimeMs)) == nil
        watch = try JobCompletedWatch(domain)
    }

    /// Lets go of a job that will not run: its watch is deregistered on a thread of its own
    /// (a call to the daemon, which may be the one that does not answer).
    func discard() {
        let thread = Thread { [watch] in watch.close() }
        thread.name = "evac.libvirt.discard"
        thread.start()
    }

    /// Non-blocking: safe to call from a cancellation handler on any thread.
    func cancel() {
        lock.withLock {
            cancelled = true
            if abortAskedAt == nil { abortAskedAt = Date() }
        }
        wake.signal()
    }

    /// Non-blocking. The failure to report when the abort was asked for more than `grace` ago
    /// and the migrate call still has not returned: the source daemon is stuck (typically in
    /// connecting to a frozen target, which libvirt does without a deadline). Its thread is then
    /// left to end by itself; evac cannot tell where the guest will be, only a reconcile can.
    func stuck(grace: TimeInterval) -> Result<MigrationOutcome, HypervisorError>? {
        let state: (asked: Date?, finished: Bool, lost: Bool) = lock.withLock { (abortAskedAt, finished, targetLost) }
        guard let asked = state.asked, !state.finished, Date().timeIntervalSince(asked) >= grace else { return nil }
        let target = request.target
        let why: String =
            state.lost
            ? "target \(target.name) (\(redactURI(target.uri))) stopped answering (libvirt keepalive) and " : ""
        let within: String = Format.planDuration(ms: UInt64(clamping: Int64(grace * 1000)))
        let text: String =
            "\(why)the migration of \(request.guestName) did not end within \(within) of its abort: "
            + "the source daemon does not finish it; the guest has most likely not left \(request.source.name), "
            + "`evac resume` finds out where it is"
        return .failure(
            HypervisorError(.unreachable, host: request.source.name, uri: redactURI(request.source.uri), text))
    }

    private var isCancelled: Bool { lock.withLock { cancelled } }

    /// Blocking: the migration, on `lent` (a connection of its own) and `migrating` (the guest
    /// looked up on it). Never throws: failures come back as `HypervisorError` values.
    func run(on lent: LibvirtConnection, _ migrating: LibvirtDomain) -> Result<MigrationOutcome, HypervisorError> {
        let started = Date()
        defer { watch.close() }
        if isCancelled { return .failure(aborted("cancelled before the migration started", origin: nil)) }

        let pollerDone = DispatchSemaphore(value: 0)
        let setDowntimeInPoller = downtimePending
        let poller = Thread { [self] in
            poll(downtimePending: setDowntimeInPoller)
            pollerDone.signal()
        }
        poller.name = "evac.libvirt.migrate-poll.\(request.guestName)"
        poller.start()

        let (params, flags) = (params, flags)
        let result = Result { () throws(LibvirtError) in
            try migrating.migrateToURI3(request.target.uri, params: params, flags: flags)
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
            return .failure(failure(error, connectionAlive: lent.isAlive))
        }
    }

    /// What a failed migrate call means. Our own connection to the source dying (a daemon
    /// killed or frozen: keepalive closes it) leaves the outcome unknown, since a peer-to-peer
    /// migration goes on inside the source daemon without us; anything the daemon answered
    /// means it ended the job, and libvirt's error says why.
    private func failure(_ error: LibvirtError, connectionAlive: Bool) -> HypervisorError {
        let source = request.source
        if lock.withLock({ targetLost }) {
            let target = request.target
            // Transient, as when the source daemon reports the connection lost first (which of
            // the two sees a killed target first is a race): the retry's pre-check then finds
            // the target down (blocked) or back (migrated).
            var e = HypervisorError(libvirt: error, host: target, kind: .connectionLost)
            e.message =
                "target \(target.name) stopped answering during the migration of \(request.guestName) (libvirt keepalive); "
                + "the migration was aborted, the guest stays on \(source.name): \(e.message)"
            return e
        }
        if isCancelled || error.isOperationAborted {
            return aborted(error.message, origin: HypervisorError(libvirt: error, host: source).origin)
        }
        if !connectionAlive {
            var e = HypervisorError(libvirt: error, host: source, kind: .unreachable)
            e.message =
                "lost the connection to \(source.name) during the migration of \(request.guestName), "
                + "which may still be going on inside its daemon (`evac resume` finds out where the guest is): \(e.message)"
            return e
        }
        let e = HypervisorError(libvirt: error, host: source)
        return e.kind == .other ? HypervisorError(libvirt: error, host: source, kind: .migrationFailed) : e
    }

    private func poll(downtimePending: Bool) {
        var downtimePending = downtimePending
        var abortSent = false
        while true {
            _ = wake.wait(timeout: .now() + pollInterval)
            if let target = targetWatch, !lock.withLock({ targetLost || finished }), !target.isAlive {
                // The target's daemon no longer answers evac: abort rather than wait on it.
                lock.withLock { targetLost = true }
                cancel()
            }
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

    private func aborted(_ detail: String, origin: HypervisorError.Origin?) -> HypervisorError {
        HypervisorError(
            .aborted, host: request.source.name, uri: redactURI(request.source.uri),
            "migration of \(request.guestName) aborted; the guest stays on its source: \(detail)", origin: origin)
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
