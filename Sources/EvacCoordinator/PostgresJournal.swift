import EvacCore
import EvacRun
import Foundation
import Logging
import PostgresNIO

/// A run journal in the coordinator's database: the same model and the same rule as
/// `SQLiteJournal` (`commit` returns once the batch is committed, `synchronous_commit` as the
/// server has it, on by default), so the executor's "durable before the side effect" holds, and
/// any machine that reaches the database can show, resume or roll back the run.
///
/// Beyond SQLite's journal, its transactions carry the fleet's rules (see `JournalWriter`):
/// - the batch that begins a run takes the plan's run lease and the leases of the hosts it
///   drains, and reserves capacity for its pending migrations (`planned`), or refuses;
/// - a step becoming running carries a `CapacityClaim`: its reservation turns `in-flight` in
///   the same transaction, only if the target's reservations did not change since its pre-check;
/// - a step that lands, fails or is blocked releases its reservation in the transaction that
///   records it; the batch that ends the run releases its leases;
/// - every write first renews the run's lease and checks that it is still this process's
///   (fencing: a runner whose lease was taken over writes nothing more).
///
/// Plain transitions are merged into one transaction when they arrive together (group commit,
/// as SQLite's); the others are written alone. A heartbeat renews the lease between writes.
public final class PostgresJournal: RunJournal, @unchecked Sendable {
    public let path: String
    public let key: String
    let coordinator: Coordinator
    let plan: PlanFile
    let holder: String
    let token = UUID()
    /// Memory and vCPUs of every migration of the plan, by id (a rollback step keeps its id).
    let sizes: [Int: (memoryKiB: UInt64, vcpus: Int)]

    struct Pending {
        var batch: JournalBatch
        var id: UUID
        var done: CheckedContinuation<Void, any Error>
    }
    struct State {
        var queue: [Pending] = []
        var draining = false
        /// Set once a write failed for good (lease lost, database gone past the wait): later
        /// commits fail too, so the executor starts nothing more.
        var dead: (any Error)?
        var closed = false
        /// The run's admission number once it began (earlier runs' plans take precedence).
        var admitted: Int64?
        var heartbeat: Task<Void, Never>?
    }
    let state = Locked(State())

    init(coordinator: Coordinator, plan: PlanFile, key: String, holder: String) {
        self.coordinator = coordinator
        self.plan = plan
        self.key = key
        self.holder = holder
        path = "\(coordinator.url.server) journal \(key)"
        sizes = Dictionary(plan.graph.nodes.map { ($0.id, ($0.memoryKiB, $0.vcpus)) }, uniquingKeysWith: { a, _ in a })
    }

    var planName: String { plan.planName }
    var admitted: Int64? { state.withLock { $0.admitted } }

    // MARK: Writing

    public func commit(_ batch: JournalBatch) async throws {
        if let dead = state.withLock({ $0.dead }) { throw dead }
        if state.withLock({ $0.closed }) { throw JournalError.io(path: path, "journal is closed") }
        if batch.beginRun != nil || batch.claim != nil || batch.finishRun != nil {
            return try await writeAlone(batch)
        }
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            let start: Bool = state.withLock { s in
                s.queue.append(Pending(batch: batch, id: UUID(), done: c))
                if s.draining { return false }
                s.draining = true
                return true
            }
            if start { Task { await self.drain() } }
        }
    }

    /// Writes everything queued, in one transaction per round, until the queue is empty.
    private func drain() async {
        while true {
            let work: [Pending] = state.withLock { s in
                let w = s.queue
                s.queue = []
                if w.isEmpty { s.draining = false }
                return w
            }
            if work.isEmpty { return }
            do {
                try await write(work.map { ($0.batch, $0.id) }, "writing \(work.count) journal batch(es)")
                for p in work { p.done.resume() }
            } catch {
                let e = fatal(error)
                let rest: [Pending] = state.withLock { s in
                    s.draining = false
                    defer { s.queue = [] }
                    return s.queue
                }
                for p in work + rest { p.done.resume(throwing: e) }
                return
            }
        }
    }

    private func writeAlone(_ batch: JournalBatch) async throws {
        let what =
            batch.beginRun != nil
            ? "beginning run \(batch.runID)" : batch.claim != nil ? "starting a migration" : "ending run \(batch.runID)"
        do {
            try await write([(batch, UUID())], what)
        } catch CoordinatorError.changed(let t) {
            throw CoordinatorError.changed(target: t)
        } catch CoordinatorError.leased(let m) {
            throw CoordinatorError.leased(m)
        } catch {
            throw fatal(error)
        }
        if batch.beginRun != nil { startHeartbeat() }
        if batch.finishRun != nil { stopHeartbeat() }
    }

    /// Marks the journal dead with `error` (kept as the first one) and returns it.
    private func fatal(_ error: any Error) -> any Error {
        state.withLock { s in
            if s.dead == nil { s.dead = error }
            return s.dead!
        }
    }

    private func write(_ batches: [(JournalBatch, UUID)], _ what: String) async throws {
        let writer = JournalWriter(journal: self, ttl: coordinator.link.timing.leaseTTL)
        let admitted: Int64? = try await coordinator.link.run(what) { c in
            try await c.withTransaction(logger: self.coordinator.logger) { c in
                try await writer.write(batches, on: c)
            }
        }
        if let admitted { state.withLock { $0.admitted = admitted } }
    }

    // MARK: Heartbeat

    private func startHeartbeat() {
        let every = coordinator.link.timing.leaseTTL / 3
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: every)
                guard let self, !Task.isCancelled else { return }
                do {
                    try await self.renew()
                } catch let e as CoordinatorError {
                    if case .leaseLost = e {
                        _ = self.fatal(e)
                        return
                    }
                    // Unreachable for longer than a renewal: keep trying; the writes say the rest.
                } catch {}
            }
        }
        state.withLock { s in
            s.heartbeat?.cancel()
            s.heartbeat = task
        }
    }

    private func stopHeartbeat() {
        state.withLock { s in
            s.heartbeat?.cancel()
            s.heartbeat = nil
        }
    }

    /// Extends the run's lease by a TTL from the database's clock; throws `leaseLost` when another
    /// process holds it now.
    func renew() async throws(CoordinatorError) {
        let name = planName
        let token = self.token
        let ttl = Self.seconds(coordinator.link.timing.leaseTTL)
        let logger = coordinator.logger
        let renewed = try await coordinator.link.run(
            "renewing the lease of plan \(name)", outage: coordinator.link.timing.leaseTTL
        ) { c in
            let rows = try await c.query(
                """
                UPDATE evac_run_leases SET renewed = now(), expires = now() + make_interval(secs => \(ttl))
                WHERE plan_name = \(name) AND token = \(token) RETURNING 1
                """, logger: logger)
            var n = 0
            for try await _ in rows { n += 1 }
            return n
        }
        if renewed == 0 { throw .leaseLost("the lease of plan \(name) was taken over by another process") }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    // MARK: Reading

    public func steps(kind: RunKind) async throws -> [StepRecord] {
        let key = self.key
        let k = kind.rawValue
        let logger = coordinator.logger
        return try await coordinator.link.run("reading the steps of \(key)") { c in
            try await FleetReader.steps(c, journal: key, kind: k, logger: logger)
        }
    }

    public func runs() async throws -> [RunRecord] {
        let key = self.key
        let logger = coordinator.logger
        return try await coordinator.link.run("reading the runs of \(key)") { c in
            try await FleetReader.runs(c, journal: key, logger: logger)
        }
    }

    public func hookState() async throws -> HookJournalState {
        let key = self.key
        let logger = coordinator.logger
        return try await coordinator.link.run("reading the hooks of \(key)") { c in
            HookJournalState(
                records: try await FleetReader.hooks(c, journal: key, logger: logger),
                passes: try await FleetReader.passes(c, journal: key, logger: logger))
        }
    }

    // MARK: Progress (status --follow)

    /// The latest sample per step, upserted: one row per step, however long the run. Not part
    /// of the group commit and not fenced by the lease (a sample is a display, not a state).
    public func recordProgress(_ samples: [ProgressRecord]) async throws {
        guard !samples.isEmpty else { return }
        let key = self.key
        let logger = coordinator.logger
        let rows: [(ProgressRecord, String)] = samples.compactMap { s in s.sampleJSON.map { (s, $0) } }
        try await coordinator.link.run("recording progress of \(key)") { c in
            for (s, json) in rows {
                try await c.query(
                    """
                    INSERT INTO evac_progress (journal, kind, migration_id, run_id, attempt, at, sample)
                    VALUES (\(key), \(s.kind.rawValue), \(s.id), \(s.runID), \(s.attempt), \(s.at), \(json))
                    ON CONFLICT (journal, kind, migration_id) DO UPDATE SET run_id = excluded.run_id,
                        attempt = excluded.attempt, at = excluded.at, sample = excluded.sample
                    """, logger: logger)
            }
        }
    }

    public func progress() async throws -> [ProgressRecord] {
        let key = self.key
        let logger = coordinator.logger
        return try await coordinator.link.run("reading the progress of \(key)") { c in
            try await FleetReader.progress(c, journal: key, logger: logger)
        }
    }

    /// Stops the heartbeat. The lease stays when the run did not end (the journal failed, the
    /// process is stopping): it expires after its TTL, and a resume anywhere takes it over.
    public func close() {
        let first: Bool = state.withLock { s in
            defer { s.closed = true }
            return !s.closed
        }
        guard first else { return }
        stopHeartbeat()
    }

    deinit { close() }
}
