import EvacCore
import EvacRun
import Foundation

/// An in-memory world of hosts and guests behind the `Hypervisor` protocol, with fault
/// injection, for tests and the benchmark. Thread-safe; every call is non-blocking.
///
/// Crash model (`crash()`): the evac process is gone but the hosts are not. Migrations already
/// handed to the hypervisor complete (peer-to-peer jobs are driven by the source daemon), and
/// no new call is served until `restart()`.
public final class FakeHypervisor: Hypervisor, @unchecked Sendable {
    public enum Fault: Sendable, Hashable {
        /// The migration fails with this libvirt-like message; the guest stays on the source.
        case fail(String)
        /// The first `times` migrations of the guest fail with this kind and message (the
        /// guest stays on the source); later ones succeed. For the retry policy.
        case failFirst(times: Int, HypervisorError.Kind, String)
        /// Never completes, never reports progress, until cancelled (timeout, stop).
        case hang
        /// Reports progress samples whose remaining data never shrinks, until cancelled.
        case stall
        /// Reports iteration 1 (the first pass) for about 20 ms, then 2, and does not converge
        /// until `startPostCopy` is called.
        case needsPostCopy
        /// A busy guest: every pre-copy pass (about 2 ms) leaves `remaining` bytes to send at
        /// `bytesPerSec`. It converges, as QEMU does, once they fit in the max downtime (the
        /// plan's, or what `setMaxDowntime` set), or when post-copy is asked for; in paused
        /// mode it dirties nothing and completes.
        case dirties(remaining: UInt64, bytesPerSec: UInt64)
    }

    /// A call of the offline fallback that changed a guest: what, which guest, on which host.
    public struct PowerCall: Sendable, Hashable {
        public enum Kind: String, Sendable, Hashable { case shutdown, destroy, start, undefine }
        public var kind: Kind
        public var uuid: String
        public var host: String
        public init(kind: Kind, uuid: String, host: String) {
            self.kind = kind
            self.uuid = uuid
            self.host = host
        }
    }

    public struct Peaks: Sendable, Hashable {
        public var total = 0
        public var perSource: [String: Int] = [:]
        public var perTarget: [String: Int] = [:]
        public var perGroup: [String: Int] = [:]
    }

    private struct World {
        var hosts: [String: HostInventory] = [:]
        /// host name → uuid → guest (the inventory's `guests` is filled on inspect).
        var guests: [String: [String: Guest]] = [:]
        var unreachable: Set<String> = []
        /// Hosts that accept calls and never answer (a frozen daemon), until cancelled.
        var silent: Set<String> = []
        var faults: [String: Fault] = [:]
        var cpu: [String: CPUVerdict] = [:]
        var completed: [String: Int] = [:]
        /// Migrations started per guest name (failed ones included).
        var attempts: [String: Int] = [:]
        var postCopyRequested: Set<String> = []
        /// uuid → the last iteration reported when `startPostCopy` was called.
        var postCopyAtIteration: [String: UInt64] = [:]
        var iteration: [String: UInt64] = [:]
        /// uuid → every max downtime set during its migrations, ms, in order.
        var downtimes: [String: [UInt64]] = [:]
        /// Every migration asked for, in order (failed ones included).
        var requests: [MigrationRequest] = []
        /// Guest name → how long its migration counts for in `playedMs`.
        var played: [String: Double] = [:]
        /// The sum of the played durations of the migrations completed so far.
        var playedMs: Double = 0
        /// Guests (names) whose OS ignores the ACPI shutdown request.
        var ignoresShutdown: Set<String> = []
        /// Every shutdown, destroy, start and undefine call that changed a guest, in order.
        var power: [PowerCall] = []
        var crashed = false
        /// host → uuid → the job libvirt would report on that guest (a migration that outlived
        /// the killed evac, as the source daemon goes on with it).
        var jobs: [String: [String: GuestJob]] = [:]
        var active = Peaks()
        var peaks = Peaks()
        var calls = 0
    }

    private let world = Locked(World())
    /// uuid → anti-affinity groups, so the fake can record per-group concurrency.
    public let groupsOf: [String: [String]]
    /// Time each migration takes; zero for benchmarks. Progress is reported in 4 samples.
    public let migrationDelay: Duration

    public init(hosts: [HostInventory], groupsOf: [String: [String]] = [:], migrationDelay: Duration = .zero) {
        self.groupsOf = groupsOf
        self.migrationDelay = migrationDelay
        world.withLock { w in
            for var h in hosts {
                w.guests[h.name] = Dictionary(uniqueKeysWithValues: h.guests.map { ($0.uuid, $0) })
                h.guests = []
                w.hosts[h.name] = h
            }
        }
    }

    // MARK: Controls for tests

    public func setFault(guest: String, _ fault: Fault?) { world.withLock { $0.faults[guest] = fault } }
    public func setReachable(_ host: String, _ up: Bool) {
        world.withLock { w in if up { w.unreachable.remove(host) } else { w.unreachable.insert(host) } }
    }
    /// A host that never answers: every call waits until its task is cancelled, then fails
    /// with `.interrupted` (the real adapter gives up at its deadline instead).
    public func setSilent(_ host: String, _ silent: Bool) {
        world.withLock { w in if silent { w.silent.insert(host) } else { w.silent.remove(host) } }
    }
    public func setCPUVerdict(target: String, _ v: CPUVerdict?) { world.withLock { $0.cpu[target] = v } }
    public func crash() { world.withLock { $0.crashed = true } }
    /// How long the guest's migration counts for on the played clock (`playedMs`), so that a
    /// test plays predicted durations without waiting for them.
    public func setPlayedDuration(guest: String, ms: Double?) { world.withLock { $0.played[guest] = ms } }
    /// The played clock: the played durations of the migrations completed so far, in ms. With one
    /// migration at a time it is the predicted schedule's time.
    public var playedMs: Double { world.withLock { $0.playedMs } }
    /// The guest's OS ignores (or does not) the ACPI shutdown request: it runs on until destroyed.
    public func setIgnoresShutdown(guest: String, _ ignores: Bool) {
        world.withLock { w in if ignores { w.ignoresShutdown.insert(guest) } else { w.ignoresShutdown.remove(guest) } }
    }
    /// Every shutdown, destroy, start and undefine that changed a guest, in order.
    public var powerCalls: [PowerCall] { world.withLock { $0.power } }
    public func restart() { world.withLock { $0.crashed = false } }

    /// Migrations started per guest name, failed ones included.
    public var attemptCounts: [String: Int] { world.withLock { $0.attempts } }
    /// Completed migrations per guest UUID.
    public var migrationCounts: [String: Int] { world.withLock { $0.completed } }
    public var peaks: Peaks { world.withLock { $0.peaks } }
    public var postCopyRequests: Set<String> { world.withLock { $0.postCopyRequested } }
    /// uuid → the memory iteration the guest's migration had reported when post-copy was asked for.
    public var postCopyIterations: [String: UInt64] { world.withLock { $0.postCopyAtIteration } }
    /// uuid → every max downtime `setMaxDowntime` set, ms, in order.
    public var downtimesSet: [String: [UInt64]] { world.withLock { $0.downtimes } }
    /// Every migration request that reached the fake, in order.
    public var requests: [MigrationRequest] { world.withLock { $0.requests } }
    /// Hosts (names) where the guest is defined, with its state.
    public func whereIs(uuid: String) -> [String: Guest.State] {
        world.withLock { w in
            var out: [String: Guest.State] = [:]
            for (h, gs) in w.guests { if let g = gs[uuid] { out[h] = g.state } }
            return out
        }
    }
    /// Puts a guest on a host directly (a manual fix by the operator, a split brain...).
    public func place(_ guest: Guest, on host: String) {
        world.withLock { $0.guests[host, default: [:]][guest.uuid] = guest }
    }
    /// Replaces a host's storage pools (what `inspect` reports from now on).
    public func setStoragePools(_ pools: [StoragePoolInfo], on host: String) {
        world.withLock { $0.hosts[host]?.storagePools = pools }
    }
    public func remove(uuid: String, from host: String) {
        world.withLock { _ = $0.guests[host]?.removeValue(forKey: uuid) }
    }
    /// Sets (nil: ends) the job `activeJob` reports for a guest on a host: a migration still
    /// under way in the source daemon after the evac that started it was killed.
    public func setJob(_ job: GuestJob?, uuid: String, on host: String) {
        world.withLock { $0.jobs[host, default: [:]][uuid] = job }
    }

    // MARK: Hypervisor

    private func gate(_ host: HostEndpoint, _ w: inout World) throws(HypervisorError) {
        w.calls += 1
        if w.crashed {
            throw HypervisorError(.other, host: host.name, uri: host.uri, "the evac process is gone (simulated crash)")
        }
        if w.unreachable.contains(host.name) || w.hosts[host.name] == nil {
            throw HypervisorError(.unreachable, host: host.name, uri: host.uri, "cannot connect: Connection refused")
        }
    }

    /// Waits while `host` is silent; throws `.interrupted` once the task is cancelled.
    private func answer(_ host: HostEndpoint) async throws(HypervisorError) {
        while world.withLock({ $0.silent.contains(host.name) }) {
            guard await pause(.milliseconds(5)) else {
                throw HypervisorError(
                    .interrupted, host: host.name, uri: host.uri, "not waited for: the run was interrupted")
            }
        }
    }

    public func locate(guestUUID: String, on host: HostEndpoint) async throws(HypervisorError) -> GuestPresence {
        try await answer(host)
        return try world.withLock { (w: inout World) throws(HypervisorError) -> GuestPresence in
            try gate(host, &w)
            guard let g = w.guests[host.name]?[guestUUID] else { return .absent }
            return .present(state: g.state, persistent: g.persistent)
        }
    }

    public func activeJob(guestUUID: String, on host: HostEndpoint) async throws(HypervisorError) -> GuestJob? {
        try await answer(host)
        return try world.withLock { (w: inout World) throws(HypervisorError) -> GuestJob? in
            try gate(host, &w)
            return w.jobs[host.name]?[guestUUID]
        }
    }

    public func inspect(_ host: HostEndpoint) async throws(HypervisorError) -> HostInventory {
        try await answer(host)
        return try world.withLock { (w: inout World) throws(HypervisorError) -> HostInventory in
            try gate(host, &w)
            var inv = w.hosts[host.name]!
            inv.guests = Array(w.guests[host.name, default: [:]].values)
            return inv
        }
    }

    public func compareCPU(
        guestUUID: String, source: HostEndpoint, target: HostEndpoint
    ) async throws(HypervisorError) -> CPUVerdict? {
        try world.withLock { (w: inout World) throws(HypervisorError) -> CPUVerdict? in
            try gate(target, &w)
            return w.cpu[target.name]
        }
    }

    public func startPostCopy(guestUUID: String, source: HostEndpoint) async throws(HypervisorError) {
        try world.withLock { (w: inout World) throws(HypervisorError) in
            try gate(source, &w)
            w.postCopyRequested.insert(guestUUID)
            w.postCopyAtIteration[guestUUID] = w.iteration[guestUUID] ?? 0
        }
    }

    public func setMaxDowntime(
        guestUUID: String, source: HostEndpoint, milliseconds: UInt64
    ) async throws(HypervisorError) {
        try world.withLock { (w: inout World) throws(HypervisorError) in
            try gate(source, &w)
            w.downtimes[guestUUID, default: []].append(milliseconds)
        }
    }

    public func shutdown(guestUUID: String, on host: HostEndpoint) async throws(HypervisorError) {
        try power(.shutdown, guestUUID, host) { g, ignores in
            if !ignores && g.state.isActive { g.state = .shutoff }
        }
    }

    public func destroy(guestUUID: String, on host: HostEndpoint) async throws(HypervisorError) {
        try power(.destroy, guestUUID, host) { g, _ in g.state = .shutoff }
    }

    public func start(guestUUID: String, on host: HostEndpoint) async throws(HypervisorError) {
        try power(.start, guestUUID, host) { g, _ in g.state = .running }
    }

    public func undefine(guestUUID: String, on host: HostEndpoint) async throws(HypervisorError) {
        try world.withLock { (w: inout World) throws(HypervisorError) in
            try gate(host, &w)
            guard let g = w.guests[host.name]?[guestUUID] else { throw Self.notFound(guestUUID, host) }
            guard !g.state.isActive else {
                throw HypervisorError(
                    .other, host: host.name, uri: host.uri, "Requested operation is not valid: domain is active")
            }
            w.guests[host.name]?[guestUUID] = nil
            w.power.append(PowerCall(kind: .undefine, uuid: guestUUID, host: host.name))
        }
    }

    /// A power call on a guest of `host` as libvirt answers it: the guest must be there, and
    /// start (destroy) refuses a guest that is (not) running.
    private func power(
        _ kind: PowerCall.Kind, _ uuid: String, _ host: HostEndpoint, _ change: (inout Guest, Bool) -> Void
    ) throws(HypervisorError) {
        try world.withLock { (w: inout World) throws(HypervisorError) in
            try gate(host, &w)
            guard var g = w.guests[host.name]?[uuid] else { throw Self.notFound(uuid, host) }
            if kind == .start && g.state.isActive || kind == .destroy && !g.state.isActive {
                throw HypervisorError(
                    .other, host: host.name, uri: host.uri,
                    "Requested operation is not valid: domain is \(g.state.isActive ? "already" : "not") running")
            }
            change(&g, w.ignoresShutdown.contains(g.name))
            w.guests[host.name]?[uuid] = g
            w.power.append(PowerCall(kind: kind, uuid: uuid, host: host.name))
        }
    }

    private static func notFound(_ uuid: String, _ host: HostEndpoint) -> HypervisorError {
        HypervisorError(
            .guestNotFound, host: host.name, uri: host.uri, "Domain not found: no domain with matching uuid '\(uuid)'")
    }

    public func migrate(
        _ r: MigrationRequest, progress: @escaping @Sendable (MigrationProgress) -> Void
    ) async throws(HypervisorError) -> MigrationOutcome {
        let groups = groupsOf[r.guestUUID] ?? []
        let fault = try begin(r, groups: groups)
        defer { end(r, groups: groups) }
        switch fault {
        case .fail(let message)?:
            throw HypervisorError(.migrationFailed, host: r.source.name, uri: r.source.uri, message)
        case .failFirst(_, let kind, let message)?:
            throw HypervisorError(
                kind, host: r.source.name, uri: r.source.uri, message,
                origin: .init(call: "virDomainMigrateToURI3(\(r.guestName))", code: 1, domain: 10, message: message))
        case .hang?:
            while await pause(.milliseconds(5)) {}
            return try abortedOrCompleted(r)
        case .stall?:
            return try await stall(r, progress: progress)
        case .needsPostCopy?:
            return try await needPostCopy(r, progress: progress)
        case .dirties(let remaining, let rate)?:
            return try await dirty(r, remaining: remaining, rate: rate, progress: progress)
        case nil:
            return try await converge(r, progress: progress)
        }
    }

    /// The bytes every simulated migration reports as its total.
    private static let simulatedTotal: UInt64 = 1 << 30

    /// Counts the migration in flight (and its peaks) once both hosts answer and the guest is
    /// on its source; the guest's fault for this attempt, if it has one.
    private func begin(_ r: MigrationRequest, groups: [String]) throws(HypervisorError) -> Fault? {
        try world.withLock { (w: inout World) throws(HypervisorError) -> Fault? in
            try gate(r.source, &w)
            try gate(r.target, &w)
            guard let g = w.guests[r.source.name]?[r.guestUUID] else {
                throw HypervisorError(
                    .guestNotFound, host: r.source.name, uri: r.source.uri,
                    "Domain not found: no domain with matching uuid '\(r.guestUUID)'")
            }
            if r.mode == .offline, g.state.isActive {
                // As libvirt: VIR_MIGRATE_OFFLINE moves a definition, never a running guest.
                throw HypervisorError(
                    .other, host: r.source.name, uri: r.source.uri,
                    "Requested operation is not valid: domain is active (offline migration)")
            }
            w.active.total += 1
            w.peaks.total = max(w.peaks.total, w.active.total)
            w.active.perSource[r.source.name, default: 0] += 1
            w.peaks.perSource[r.source.name] = max(
                w.peaks.perSource[r.source.name] ?? 0, w.active.perSource[r.source.name]!)
            w.active.perTarget[r.target.name, default: 0] += 1
            w.peaks.perTarget[r.target.name] = max(
                w.peaks.perTarget[r.target.name] ?? 0, w.active.perTarget[r.target.name]!)
            for g in groups {
                w.active.perGroup[g, default: 0] += 1
                w.peaks.perGroup[g] = max(w.peaks.perGroup[g] ?? 0, w.active.perGroup[g]!)
            }
            w.attempts[r.guestName, default: 0] += 1
            w.requests.append(r)
            if case .failFirst(let times, _, _)? = w.faults[r.guestName], w.attempts[r.guestName]! > times {
                return nil
            }
            return w.faults[r.guestName]
        }
    }

    /// The migration is no longer in flight.
    private func end(_ r: MigrationRequest, groups: [String]) {
        world.withLock { w in
            w.active.total -= 1
            w.active.perSource[r.source.name]! -= 1
            w.active.perTarget[r.target.name]! -= 1
            for g in groups { w.active.perGroup[g]! -= 1 }
        }
    }

    /// `.stall`: half sent, the rest never shrinking, until cancelled.
    private func stall(
        _ r: MigrationRequest, progress: @Sendable (MigrationProgress) -> Void
    ) async throws(HypervisorError) -> MigrationOutcome {
        let total = Self.simulatedTotal
        var n: UInt64 = 0
        while await pause(.milliseconds(2)) {
            n += 1
            progress(
                MigrationProgress(
                    elapsedMs: n * 2, dataTotal: total, dataProcessed: total / 2,
                    dataRemaining: total / 2, memoryBps: 0, iteration: 1 + n / 10))
        }
        return try abortedOrCompleted(r)
    }

    /// `.needsPostCopy`: the first pass, then re-send passes that do not converge, until post-copy
    /// is asked for.
    private func needPostCopy(
        _ r: MigrationRequest, progress: @Sendable (MigrationProgress) -> Void
    ) async throws(HypervisorError) -> MigrationOutcome {
        let total = Self.simulatedTotal
        var n: UInt64 = 0
        while await pause(.milliseconds(2)) {
            n += 1
            let iteration: UInt64 = n < 10 ? 1 : 2
            // Recorded before it is reported, as libvirt's job statistics would hold it.
            world.withLock { $0.iteration[r.guestUUID] = iteration }
            progress(
                MigrationProgress(
                    elapsedMs: n * 2, dataTotal: total, dataProcessed: total / 2,
                    dataRemaining: total / 2 - min(total / 4, n), memoryBps: 1 << 20, iteration: iteration))
            if world.withLock({ $0.postCopyRequested.contains(r.guestUUID) }) { return complete(r) }
        }
        return try abortedOrCompleted(r)
    }

    /// `.dirties`: passes that each leave `remaining` bytes, until they fit in the downtime in
    /// force or post-copy is asked for (paused: nothing is dirtied).
    private func dirty(
        _ r: MigrationRequest, remaining: UInt64, rate: UInt64, progress: @Sendable (MigrationProgress) -> Void
    ) async throws(HypervisorError) -> MigrationOutcome {
        if r.mode != .live { return complete(r) }
        let total = Self.simulatedTotal
        var n: UInt64 = 0
        while await pause(.milliseconds(2)) {
            // As QEMU: the switch-over is decided with the downtime in force when a pass
            // ends, before the job statistics show the next pass.
            let (downtime, postCopy) = world.withLock {
                (
                    $0.downtimes[r.guestUUID]?.last ?? r.options.maxDowntimeMs,
                    $0.postCopyRequested.contains(r.guestUUID)
                )
            }
            if postCopy || Double(remaining) / Double(max(1, rate)) * 1000 <= Double(downtime) {
                return complete(r)
            }
            n += 1
            let iteration = n / 2 + 1
            world.withLock { $0.iteration[r.guestUUID] = iteration }
            progress(
                MigrationProgress(
                    elapsedMs: n * 2, dataTotal: total, dataProcessed: total - remaining,
                    dataRemaining: remaining, memoryBps: rate, iteration: iteration))
        }
        return try abortedOrCompleted(r)
    }

    /// No fault: four progress samples over `migrationDelay` (none when it is zero), then done.
    private func converge(
        _ r: MigrationRequest, progress: @Sendable (MigrationProgress) -> Void
    ) async throws(HypervisorError) -> MigrationOutcome {
        let total = Self.simulatedTotal
        if migrationDelay > .zero {
            for k in UInt64(1)...4 {
                guard await pause(migrationDelay / 4) else { return try abortedOrCompleted(r) }
                progress(
                    MigrationProgress(
                        elapsedMs: k, dataTotal: total, dataProcessed: total / 4 * k,
                        dataRemaining: total - total / 4 * k, memoryBps: 1 << 30, iteration: k >= 4 ? 1 : 0))
            }
        }
        return complete(r)
    }

    /// Sleeps; false when the task was cancelled.
    private func pause(_ d: Duration) async -> Bool {
        do {
            try await Task.sleep(for: d)
            return true
        } catch { return false }
    }

    /// On cancellation: abort (guest stays on source), unless the client crashed, in which case
    /// the hypervisor finishes the job on its own.
    private func abortedOrCompleted(_ r: MigrationRequest) throws(HypervisorError) -> MigrationOutcome {
        if world.withLock({ $0.crashed }) {
            _ = complete(r)
        }
        throw HypervisorError(
            .aborted, host: r.source.name, uri: r.source.uri, "operation aborted: migration job: canceled by client")
    }

    /// Reports the guest's memory as transferred and the configured delay as the duration, so
    /// that what observers count (metrics) can be checked against the plan.
    private func complete(_ r: MigrationRequest) -> MigrationOutcome {
        let memoryKiB: UInt64 = world.withLock { w in
            guard var g = w.guests[r.source.name]?.removeValue(forKey: r.guestUUID) else { return 0 }
            if !r.options.undefineSource && g.persistent {
                var left = g
                left.state = .shutoff
                w.guests[r.source.name]![r.guestUUID] = left
            }
            if r.mode == .offline { g.state = .shutoff } else { g.state = .running }
            if r.options.persist { g.persistent = true }
            w.guests[r.target.name, default: [:]][r.guestUUID] = g
            w.completed[r.guestUUID, default: 0] += 1
            w.playedMs += w.played[r.guestName] ?? 0
            return g.memoryKiB
        }
        return MigrationOutcome(
            durationMs: UInt64(migrationDelay / .milliseconds(1)), downtimeMs: 0,
            transferredBytes: memoryKiB * 1024, stats: ["fake": "1"])
    }
}
