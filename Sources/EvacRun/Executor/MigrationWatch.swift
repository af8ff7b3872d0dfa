import EvacCore

/// Runs one migration under its timeouts and post-copy policy.
///
/// The migrate call races an abort signal. The watchdog fires the signal at the timeout (or
/// switches to post-copy there, for `on-timeout`, once an iteration was seen) and when the
/// remaining data has not reached a new low for the progress timeout. Cancelling the migrate
/// task makes the hypervisor abort the job; the guest stays on its source.
struct MigrationWatch: Sendable {
    let hypervisor: any Hypervisor
    let options: MigrationOptions
    let onProgress: @Sendable (MigrationProgress) -> Void

    private struct WatchState {
        var lowestRemaining: UInt64?
        var lastProgress: ContinuousClock.Instant
        var sawIteration = false
        /// Once in post-copy the job cannot be aborted without losing the guest: no more timeouts.
        var postCopy = false
        /// after-first-pass asks once; a refused switch leaves the migration in pre-copy.
        var switchedOnce = false
    }

    private enum Race: Sendable {
        case finished(Result<MigrationOutcome, HypervisorError>)
        case aborted(AbortReason?)
        case watchdogEnded
    }

    func run(
        _ request: MigrationRequest, memoryKiB: UInt64, signal: AbortSignal
    )
        async -> (Result<MigrationOutcome, HypervisorError>, AbortReason?)
    {
        let clock = ContinuousClock()
        let start = clock.now
        let state = Locked(WatchState(lastProgress: start))
        let live = request.mode == .live
        let postCopy = live ? options.postCopy : .never
        let hv = hypervisor
        let onProgress = self.onProgress
        let progress: @Sendable (MigrationProgress) -> Void = { p in
            let switchNow: Bool = state.withLock { w in
                if w.lowestRemaining.map({ p.dataRemaining < $0 }) ?? true {
                    w.lowestRemaining = p.dataRemaining
                    w.lastProgress = clock.now
                }
                if p.iteration >= 1 { w.sawIteration = true }
                // libvirt counts passes from 1 while the first is still being sent: the first
                // pass is over when the count reaches 2 (as Nova waits for memory_iteration > 1).
                guard postCopy == .afterFirstPass, p.iteration >= 2, !w.postCopy, !w.switchedOnce else { return false }
                w.postCopy = true
                w.switchedOnce = true
                return true
            }
            onProgress(p)
            if switchNow {
                Task {
                    do { try await hv.startPostCopy(guestUUID: request.guestUUID, source: request.source) } catch {
                        state.withLock { $0.postCopy = false }
                    } // still pre-copy: timeouts apply again
                }
            }
        }
        let timeoutMs = options.timeout?.milliseconds(forMemoryKiB: memoryKiB)
        let progressMs = options.progressTimeoutMs

        return await withTaskGroup(of: Race.self) { group in
            group.addTask {
                do throws(HypervisorError) {
                    return .finished(.success(try await hv.migrate(request, progress: progress)))
                } catch { return .finished(.failure(error)) }
            }
            group.addTask { .aborted(await signal.wait()) }
            if timeoutMs != nil || progressMs != nil {
                group.addTask {
                    await Self.watchdog(
                        clock: clock, start: start, state: state, timeoutMs: timeoutMs,
                        progressMs: progressMs, postCopyOnTimeout: postCopy == .onTimeout,
                        signal: signal, hypervisor: hv, request: request)
                    return .watchdogEnded
                }
            }
            var result: Result<MigrationOutcome, HypervisorError> = .failure(
                HypervisorError(.other, host: request.source.name, uri: request.source.uri, "migration task vanished"))
            while let r = await group.next() {
                switch r {
                case .finished(let res):
                    result = res
                    group.cancelAll()
                case .aborted(let reason):
                    // Cancels the migrate task: the hypervisor aborts the job and it throws.
                    if reason != nil { group.cancelAll() }
                case .watchdogEnded:
                    continue
                }
            }
            return (result, signal.reason)
        }
    }

    private static func watchdog(
        clock: ContinuousClock, start: ContinuousClock.Instant, state: Locked<WatchState>,
        timeoutMs: UInt64?, progressMs: UInt64?, postCopyOnTimeout: Bool,
        signal: AbortSignal, hypervisor: any Hypervisor, request: MigrationRequest
    ) async {
        enum Step { case end, abort(AbortReason), postCopy, sleep(ContinuousClock.Instant) }
        let timeoutArmed = timeoutMs != nil
        while !Task.isCancelled {
            let now = clock.now
            let step: Step = state.withLock { w in
                if w.postCopy { return .end }
                if timeoutArmed, let t = timeoutMs, now >= start + .milliseconds(t) {
                    if postCopyOnTimeout && w.sawIteration {
                        w.postCopy = true
                        return .postCopy
                    }
                    return .abort(.timeout(ms: t))
                }
                if let p = progressMs, now >= w.lastProgress + .milliseconds(p) { return .abort(.noProgress(ms: p)) }
                var next = now + .seconds(3600)
                if timeoutArmed, let t = timeoutMs { next = min(next, start + .milliseconds(t)) }
                if let p = progressMs { next = min(next, w.lastProgress + .milliseconds(p)) }
                return .sleep(next)
            }
            switch step {
            case .end: return
            case .abort(let r):
                signal.fire(r)
                return
            case .postCopy:
                do {
                    try await hypervisor.startPostCopy(guestUUID: request.guestUUID, source: request.source)
                    return
                } catch {
                    state.withLock { $0.postCopy = false }
                    if let t = timeoutMs { signal.fire(.timeout(ms: t)) }
                    return
                }
            case .sleep(let until):
                do { try await Task.sleep(until: until, clock: clock) } catch { return }
            }
        }
    }
}
