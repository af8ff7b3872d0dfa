import EvacCore
import EvacRun
import Foundation
import Logging
import PostgresNIO

/// The statements of one journal transaction: the rows SQLite's journal writes, plus the fleet's
/// rules (leases, reservations, fencing). Host rows are locked in name order, so two runs'
/// transactions never wait for each other in a cycle.
struct JournalWriter: Sendable {
    let journal: PostgresJournal
    let ttl: Duration

    private var logger: Logger { journal.coordinator.logger }
    private var key: String { journal.key }
    private var planName: String { journal.planName }
    private var token: UUID { journal.token }
    private var ttlSeconds: Double { PostgresJournal.seconds(ttl) }

    /// Writes `batches` in the caller's transaction; returns the run's admission number when one
    /// of them began the run.
    func write(_ batches: [(JournalBatch, UUID)], on c: PostgresConnection) async throws -> Int64? {
        // A retry after the connection broke during COMMIT: the first batch's id, recorded in the
        // same transaction, tells whether that COMMIT happened.
        guard let first = batches.first?.1 else { return nil }
        if try await exists(first, c) { return journal.admitted }
        try await c.query("INSERT INTO evac_commits (batch, journal) VALUES (\(first), \(key))", logger: logger)
        // One fence for the transaction: its UPDATE holds the lease row until COMMIT. A batch
        // that begins the run takes the lease instead (and is written alone).
        if !batches.contains(where: { $0.0.beginRun != nil }) { try await fence(c) }
        var admitted: Int64?
        var touched = Set<String>()
        for (batch, _) in batches {
            if let run = batch.beginRun {
                try await insertSteps(batch.insertSteps, c)
                admitted = try await admit(run, c, touched: &touched)
                try await c.query(
                    """
                    INSERT INTO evac_runs (journal, id, kind, plan_hash, plan_name, started, command, holder)
                    VALUES (\(key), \(run.id), \(run.kind.rawValue), \(run.planHash), \(run.planName), \(run.started),
                            \(run.command), \(journal.holder))
                    """, logger: logger)
            } else {
                try await insertSteps(batch.insertSteps, c)
            }
            if let claim = batch.claim { try await reserve(claim, batch.transitions, c, touched: &touched) }
            try await hooks(batch, c)
            for t in batch.transitions {
                try await record(t, runID: batch.runID, c)
                if batch.claim == nil || t.step.state != .running { try await release(t, c, touched: &touched) }
            }
            if let f = batch.finishRun {
                try await c.query(
                    """
                    UPDATE evac_runs SET finished = \(f.finished), exit_status = \(f.exitStatus)
                    WHERE journal = \(key) AND id = \(batch.runID)
                    """, logger: logger)
                try await end(c, touched: &touched)
            }
        }
        try await bump(touched, c)
        return admitted
    }

    private func exists(_ id: UUID, _ c: PostgresConnection) async throws -> Bool {
        try await count(c.query("SELECT 1 FROM evac_commits WHERE batch = \(id)", logger: logger)) > 0
    }

    private func count(_ rows: PostgresRowSequence) async throws -> Int {
        var n = 0
        for try await _ in rows { n += 1 }
        return n
    }

    // MARK: Journal rows

    private func insertSteps(_ steps: [StepRecord], _ c: PostgresConnection) async throws {
        for s in steps {
            try await c.query(
                """
                INSERT INTO evac_steps (journal, kind, migration_id, guest, uuid, source, target, state, attempt,
                                        reason, started, finished, stats)
                VALUES (\(key), \(s.kind.rawValue), \(s.id), \(s.guest), \(s.uuid), \(s.source), \(s.target),
                        \(s.state.rawValue), \(s.attempt), \(s.reason), \(s.started), \(s.finished), \(s.stats))
                """, logger: logger)
        }
    }

    private func record(_ t: StepTransition, runID: Int, _ c: PostgresConnection) async throws {
        let s = t.step
        try await c.query(
            """
            UPDATE evac_steps SET state = \(s.state.rawValue), attempt = \(s.attempt), reason = \(s.reason),
                started = \(s.started), finished = \(s.finished), stats = \(s.stats), target = \(s.target),
                source = \(s.source)
            WHERE journal = \(key) AND kind = \(s.kind.rawValue) AND migration_id = \(s.id)
            """, logger: logger)
        try await c.query(
            """
            INSERT INTO evac_events (journal, run_id, kind, migration_id, at, from_state, to_state, message, libvirt_error)
            VALUES (\(key), \(runID), \(s.kind.rawValue), \(s.id), \(Timestamp.now()), \(t.from.rawValue),
                    \(s.state.rawValue), \(t.message), \(t.hypervisorError))
            """, logger: logger)
    }

    /// Hook rows, guest passes and cycle batches, replaced by key (as SQLite's INSERT OR REPLACE).
    private func hooks(_ b: JournalBatch, _ c: PostgresConnection) async throws {
        for h in b.hooks {
            try await c.query(
                """
                INSERT INTO evac_hooks (journal, point, hook, scope, pass, run_id, state, subject, exit_status,
                                        started, finished, output, message)
                VALUES (\(key), \(h.point.rawValue), \(h.hook), \(h.scope), \(h.pass), \(h.runID), \(h.state.rawValue),
                        \(h.subject), \(h.exitStatus.map { Int($0) }), \(h.started), \(h.finished), \(h.output),
                        \(h.message))
                ON CONFLICT (journal, point, hook, scope, pass) DO UPDATE SET run_id = excluded.run_id,
                    state = excluded.state, subject = excluded.subject, exit_status = excluded.exit_status,
                    started = excluded.started, finished = excluded.finished, output = excluded.output,
                    message = excluded.message, written = nextval('evac_hooks_written_seq')
                """, logger: logger)
        }
        for p in b.passes {
            try await c.query(
                """
                INSERT INTO evac_hook_passes (journal, scope, closed, attempt_at_close)
                VALUES (\(key), \(p.scope), \(p.closed), \(p.attemptAtClose))
                ON CONFLICT (journal, scope) DO UPDATE SET closed = excluded.closed,
                    attempt_at_close = excluded.attempt_at_close
                """, logger: logger)
        }
        for r in b.cycle {
            try await c.query(
                """
                INSERT INTO evac_cycle (journal, batch, hosts, stage, phase_journal, updated, message)
                VALUES (\(key), \(r.batch), \(r.hosts.joined(separator: ",")), \(r.stage.rawValue), \(r.phaseJournal),
                        \(r.updated), \(r.message))
                ON CONFLICT (journal, batch) DO UPDATE SET hosts = excluded.hosts, stage = excluded.stage,
                    phase_journal = excluded.phase_journal, updated = excluded.updated, message = excluded.message
                """, logger: logger)
        }
    }

    // MARK: Fencing

    /// Renews the run's lease and checks it is still this process's; throws `leaseLost` if not.
    private func fence(_ c: PostgresConnection) async throws {
        let renewed = try await count(
            c.query(
                """
                UPDATE evac_run_leases SET renewed = now(), expires = now() + make_interval(secs => \(ttlSeconds))
                WHERE plan_name = \(planName) AND token = \(token) RETURNING 1
                """, logger: logger))
        guard renewed == 0 else { return }
        var who = "nobody holds it now"
        for try await (holder, journalKey) in try await c.query(
            "SELECT holder, journal FROM evac_run_leases WHERE plan_name = \(planName)", logger: logger
        ).decode((String, String).self) {
            who = "\(holder) holds it now (journal \(journalKey))"
        }
        throw CoordinatorError.leaseLost(
            "this run's lease of plan \(planName) was lost: \(who); this process writes nothing more. "
                + "The run continues where its lease is held (see `evac status --all`)")
    }

    // MARK: Admission

    /// Takes the plan's run lease and its sources' host leases, and reserves capacity for its
    /// pending migrations; refuses (`leased`) when another run holds what it needs.
    private func admit(_ run: RunRecord, _ c: PostgresConnection, touched: inout Set<String>) async throws -> Int64 {
        try await takeRunLease(run, c)
        let unsettled = try await unsettledSteps(run.kind, c)
        let sources = Set(unsettled.map(\.source))
        let pending = unsettled.filter { $0.state == .pending }
        let hosts = sources.union(pending.map(\.target)).sorted()
        try await lock(hosts, c)
        for s in sources.sorted() { try await checkDrainable(s, c) }
        try await c.query(
            "DELETE FROM evac_host_leases WHERE plan_name = \(planName) AND NOT (host = ANY(\(sources.sorted())))",
            logger: logger)
        for s in sources.sorted() {
            try await c.query(
                "INSERT INTO evac_host_leases (host, plan_name) VALUES (\(s), \(planName)) ON CONFLICT (host) DO NOTHING",
                logger: logger)
        }
        touched.formUnion(hosts)
        // Planned reservations afresh; in-flight ones (a crashed run's) stay until reconciled.
        touched.formUnion(
            try await strings(
                c.query(
                    "DELETE FROM evac_reservations WHERE journal = \(key) AND state = 'planned' RETURNING target",
                    logger: logger)))
        // None onto a host another plan drains: the pre-check blocks those steps.
        let drained = Set(
            try await strings(
                c.query(
                    "SELECT host FROM evac_host_leases WHERE host = ANY(\(hosts)) AND plan_name <> \(planName)",
                    logger: logger)))
        for s in pending where !drained.contains(s.target) {
            let size = journal.sizes[s.id] ?? (0, 0)
            try await c.query(
                """
                INSERT INTO evac_reservations (journal, kind, migration_id, target, guest, uuid, memory_kib, vcpus, state)
                VALUES (\(key), \(s.kind.rawValue), \(s.id), \(s.target), \(s.guest), \(s.uuid),
                        \(Int64(clamping: size.memoryKiB)), \(size.vcpus), 'planned')
                ON CONFLICT (journal, kind, migration_id) DO NOTHING
                """, logger: logger)
        }
        var admitted: Int64 = 0
        for try await a in try await c.query(
            "SELECT admitted FROM evac_run_leases WHERE plan_name = \(planName)", logger: logger
        ).decode(Int64.self) {
            admitted = a
        }
        return admitted
    }

    private func takeRunLease(_ run: RunRecord, _ c: PostgresConnection) async throws {
        typealias Row = (String, UUID, String, Bool, String)
        let ttl = ttlSeconds
        // A new lease, or (when the plan has one) the existing row, locked: two runs beginning
        // the same plan at once meet on the primary key, and the second waits for the first.
        let inserted = try await count(
            c.query(
                """
                INSERT INTO evac_run_leases (plan_name, journal, kind, token, holder, admitted, acquired, renewed, expires)
                VALUES (\(planName), \(key), \(run.kind.rawValue), \(token), \(journal.holder), nextval('evac_admissions'),
                        now(), now(), now() + make_interval(secs => \(ttl)))
                ON CONFLICT (plan_name) DO NOTHING RETURNING 1
                """, logger: logger))
        if inserted > 0 { return }
        var existing: Row?
        for try await r in try await c.query(
            """
            SELECT journal, token, holder, expires > now(), to_char(expires AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            FROM evac_run_leases WHERE plan_name = \(planName) FOR UPDATE
            """, logger: logger
        ).decode(Row.self) {
            existing = r
        }
        guard let (oldJournal, oldToken, oldHolder, live, expires) = existing else {
            throw Failure(transientText: true, "the lease of plan \(planName) vanished while taking it")
        }
        if oldToken != token {
            if live {
                throw CoordinatorError.leased(
                    "plan \(planName) is being run by \(oldHolder) (its lease runs until \(expires), renewed while it runs)"
                        + "\n    help: wait for it, or watch it with `evac status --all`")
            }
            if oldJournal != key, try await hasOpenRun(oldJournal, c) {
                throw CoordinatorError.leased(
                    "plan \(planName) has an interrupted run in journal \(oldJournal) (its runner \(oldHolder) stopped renewing its lease, which expired at \(expires))"
                        + "\n    help: resume or roll back that run first (`evac resume` with the plan file it ran)")
            }
            journal.coordinator.noticeTakeover(
                "note: taking over plan \(planName)'s lease from \(oldHolder), which expired at \(expires)")
        }
        try await c.query(
            """
            UPDATE evac_run_leases SET journal = \(key), kind = \(run.kind.rawValue), token = \(token),
                holder = \(journal.holder), admitted = nextval('evac_admissions'), acquired = now(), renewed = now(),
                expires = now() + make_interval(secs => \(ttl))
            WHERE plan_name = \(planName)
            """, logger: logger)
    }

    private func hasOpenRun(_ journalKey: String, _ c: PostgresConnection) async throws -> Bool {
        try await count(
            c.query(
                """
                SELECT 1 FROM evac_runs WHERE journal = \(journalKey) AND exit_status IS NULL
                  AND id = (SELECT max(id) FROM evac_runs WHERE journal = \(journalKey))
                """, logger: logger)) > 0
    }

    private func unsettledSteps(_ kind: RunKind, _ c: PostgresConnection) async throws -> [StepRecord] {
        try await FleetReader.steps(c, journal: key, kind: kind.rawValue, logger: logger).filter { !$0.state.isSettled }
    }

    /// Creates the hosts' rows if new and locks them, in name order. `NO KEY UPDATE`: the
    /// reservations' foreign keys (KEY SHARE) do not wait for it, only other version changes do.
    private func lock(_ hosts: [String], _ c: PostgresConnection) async throws {
        guard !hosts.isEmpty else { return }
        try await ensure(hosts, c)
        try await c.query(
            "SELECT host FROM evac_hosts WHERE host = ANY(\(hosts)) ORDER BY host FOR NO KEY UPDATE", logger: logger)
    }

    private func ensure(_ hosts: [String], _ c: PostgresConnection) async throws {
        try await c.query(
            "INSERT INTO evac_hosts (host) SELECT unnest(\(hosts)) ORDER BY 1 ON CONFLICT (host) DO NOTHING",
            logger: logger)
    }

    /// Refuses to drain a host another plan drains, or one that other runs are moving guests onto.
    private func checkDrainable(_ host: String, _ c: PostgresConnection) async throws {
        for try await (other, holder, live) in try await c.query(
            """
            SELECT l.plan_name, l.holder, l.expires > now() FROM evac_host_leases h JOIN evac_run_leases l USING (plan_name)
            WHERE h.host = \(host) AND h.plan_name <> \(planName)
            """, logger: logger
        ).decode((String, String, Bool).self) {
            throw CoordinatorError.leased(
                "host \(host) is being drained by plan \(other) (\(holder)\(live ? "" : "; its lease expired: that run was interrupted"))"
                    + "\n    help: a host is drained by one plan at a time; \(live ? "wait for that run to end" : "resume or roll back plan \(other) first")"
            )
        }
        for try await (other, n) in try await c.query(
            """
            SELECT j.plan_name, count(*) FROM evac_reservations r JOIN evac_journals j USING (journal)
            LEFT JOIN evac_run_leases l ON l.journal = r.journal
            WHERE r.target = \(host) AND r.journal <> \(key) AND (r.state = 'in-flight' OR l.expires > now())
            GROUP BY j.plan_name ORDER BY j.plan_name
            """, logger: logger
        ).decode((String, Int).self) {
            throw CoordinatorError.leased(
                "host \(host) is a target of plan \(other): \(n) of its migration(s) are planned or in flight onto it"
                    + "\n    help: drain it after that run ends")
        }
    }

    // MARK: Reservations

    /// The claim of a step becoming running: in-flight reservation at the version its pre-check saw.
    private func reserve(
        _ claim: CapacityClaim, _ transitions: [StepTransition], _ c: PostgresConnection, touched: inout Set<String>
    ) async throws {
        guard let step = transitions.first(where: { $0.step.state == .running })?.step else { return }
        try await lock([claim.target], c)
        var version: Int64 = 0
        for try await v in try await c.query(
            "SELECT version FROM evac_hosts WHERE host = \(claim.target)", logger: logger
        ).decode(Int64.self) {
            version = v
        }
        if let seen = claim.seen, seen != version { throw CoordinatorError.changed(target: claim.target) }
        try await c.query(
            """
            INSERT INTO evac_reservations (journal, kind, migration_id, target, guest, uuid, memory_kib, vcpus, state)
            VALUES (\(key), \(step.kind.rawValue), \(step.id), \(claim.target), \(step.guest), \(claim.uuid),
                    \(Int64(clamping: claim.memoryKiB)), \(claim.vcpus), 'in-flight')
            ON CONFLICT (journal, kind, migration_id) DO UPDATE SET state = 'in-flight', target = excluded.target,
                memory_kib = excluded.memory_kib, vcpus = excluded.vcpus
            """, logger: logger)
        touched.insert(claim.target)
    }

    /// A step that landed, failed, was blocked or skipped gives its reservation back; one that is
    /// pending again (aborted by the operator, retried) holds a planned one.
    private func release(_ t: StepTransition, _ c: PostgresConnection, touched: inout Set<String>) async throws {
        let s = t.step
        switch s.state {
        case .running:
            return
        case .pending:
            let size = journal.sizes[s.id] ?? (0, 0)
            try await ensure([s.target], c)
            try await c.query(
                """
                INSERT INTO evac_reservations (journal, kind, migration_id, target, guest, uuid, memory_kib, vcpus, state)
                VALUES (\(key), \(s.kind.rawValue), \(s.id), \(s.target), \(s.guest), \(s.uuid),
                        \(Int64(clamping: size.memoryKiB)), \(size.vcpus), 'planned')
                ON CONFLICT (journal, kind, migration_id) DO UPDATE SET state = 'planned'
                """, logger: logger)
            touched.insert(s.target)
        case .done, .failed, .blocked, .skipped, .rolledBack:
            touched.formUnion(
                try await strings(
                    c.query(
                        """
                        DELETE FROM evac_reservations WHERE journal = \(key) AND kind = \(s.kind.rawValue)
                          AND migration_id = \(s.id) RETURNING target
                        """, logger: logger)))
        }
    }

    /// The end of the run: planned reservations and the leases go.
    private func end(_ c: PostgresConnection, touched: inout Set<String>) async throws {
        touched.formUnion(
            try await strings(
                c.query(
                    "DELETE FROM evac_reservations WHERE journal = \(key) AND state = 'planned' RETURNING target",
                    logger: logger)))
        touched.formUnion(
            try await strings(
                c.query("SELECT host FROM evac_host_leases WHERE plan_name = \(planName)", logger: logger)))
        try await c.query(
            "DELETE FROM evac_run_leases WHERE plan_name = \(planName) AND token = \(token)", logger: logger)
    }

    /// Every change of a host's reservations or lease changes its version, in name order.
    private func bump(_ hosts: Set<String>, _ c: PostgresConnection) async throws {
        guard !hosts.isEmpty else { return }
        let sorted = hosts.sorted()
        try await lock(sorted, c)
        try await c.query("UPDATE evac_hosts SET version = version + 1 WHERE host = ANY(\(sorted))", logger: logger)
    }

    private func strings(_ rows: PostgresRowSequence) async throws -> [String] {
        var out: [String] = []
        for try await s in rows.decode(String.self) { out.append(s) }
        return out
    }
}
