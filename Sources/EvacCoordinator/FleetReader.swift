import EvacCore
import EvacRun
import Foundation
import Logging
import PostgresNIO

/// Reads journals, leases and reservations back. Rows are decoded into the same values as
/// SQLite's journal (`StepRecord`, `RunRecord`); a row naming an unknown kind or state is an
/// error, not a trap.
enum FleetReader {
    static func steps(
        _ c: PostgresConnection, journal: String, kind: String?, logger: Logger
    ) async throws
        -> [StepRecord]
    {
        typealias Row = (String, Int, String, String, String, String, String, Int, String?, String?, String?, String?)
        let rows = try await c.query(
            """
            SELECT kind, migration_id, guest, uuid, source, target, state, attempt, reason, started, finished, stats
            FROM evac_steps WHERE journal = \(journal) AND (\(kind)::text IS NULL OR kind = \(kind))
            ORDER BY kind, migration_id
            """, logger: logger)
        var out: [StepRecord] = []
        for try await r in rows.decode(Row.self) {
            guard let k = RunKind(rawValue: r.0) else {
                throw Failure(transientText: false, "step kind '\(r.0)' is not apply or rollback")
            }
            guard let s = StepState(rawValue: r.6) else {
                throw Failure(transientText: false, "step state '\(r.6)' is not a step state")
            }
            out.append(
                StepRecord(
                    kind: k, id: r.1, guest: r.2, uuid: r.3, source: r.4, target: r.5, state: s, attempt: r.7,
                    reason: r.8, started: r.9, finished: r.10, stats: r.11))
        }
        return out
    }

    static func runs(_ c: PostgresConnection, journal: String, logger: Logger) async throws -> [RunRecord] {
        typealias Row = (Int, String, String, String, String, String?, String?, String)
        let rows = try await c.query(
            """
            SELECT id, kind, plan_hash, plan_name, started, finished, exit_status, command
            FROM evac_runs WHERE journal = \(journal) ORDER BY id
            """, logger: logger)
        var out: [RunRecord] = []
        for try await r in rows.decode(Row.self) {
            guard let k = RunKind(rawValue: r.1) else {
                throw Failure(transientText: false, "run kind '\(r.1)' is not apply or rollback")
            }
            out.append(
                RunRecord(
                    id: r.0, kind: k, planHash: r.2, planName: r.3, started: r.4, finished: r.5, exitStatus: r.6,
                    command: r.7))
        }
        return out
    }

    /// Hook rows (oldest first, as SQLite's) of a journal.
    static func hooks(_ c: PostgresConnection, journal: String, logger: Logger) async throws -> [HookRecord] {
        typealias Row = (String, String, String, Int, Int, String, String, Int?, String, String?, String?, String?)
        let rows = try await c.query(
            """
            SELECT point, hook, scope, pass, run_id, state, subject, exit_status, started, finished, output, message
            FROM evac_hooks WHERE journal = \(journal) ORDER BY started, written
            """, logger: logger)
        var out: [HookRecord] = []
        for try await r in rows.decode(Row.self) {
            guard let point = HookPoint(rawValue: r.0) else {
                throw Failure(transientText: false, "hook point '\(r.0)' is not a hook point")
            }
            guard let state = HookRecord.State(rawValue: r.5) else {
                throw Failure(transientText: false, "hook state '\(r.5)' is not a hook state")
            }
            out.append(
                HookRecord(
                    point: point, hook: r.1, scope: r.2, pass: r.3, runID: r.4, state: state, subject: r.6,
                    exitStatus: r.7.flatMap { Int32(exactly: $0) }, started: r.8, finished: r.9, output: r.10,
                    message: r.11))
        }
        return out
    }

    /// The latest progress sample of every step of `journal` (rows whose sample does not decode
    /// are skipped: a display must not fail a status).
    static func progress(_ c: PostgresConnection, journal: String, logger: Logger) async throws -> [ProgressRecord] {
        let rows = try await c.query(
            """
            SELECT kind, migration_id, run_id, attempt, at, sample FROM evac_progress
            WHERE journal = \(journal) ORDER BY kind, migration_id
            """, logger: logger)
        var out: [ProgressRecord] = []
        for try await (kind, id, runID, attempt, at, sample) in rows.decode(
            (String, Int, Int, Int, String, String).self)
        {
            let record = ProgressRecord(kind: kind, id: id, runID: runID, attempt: attempt, at: at, sampleJSON: sample)
            if let record { out.append(record) }
        }
        return out
    }

    static func passes(_ c: PostgresConnection, journal: String, logger: Logger) async throws -> [HookPass] {
        let rows = try await c.query(
            "SELECT scope, closed, attempt_at_close FROM evac_hook_passes WHERE journal = \(journal) ORDER BY scope",
            logger: logger)
        var out: [HookPass] = []
        for try await (scope, closed, attempt) in rows.decode((String, Int, Int).self) {
            out.append(HookPass(scope: scope, closed: closed, attemptAtClose: attempt))
        }
        return out
    }

    static func cycle(_ c: PostgresConnection, journal: String, logger: Logger) async throws -> [CycleRecord] {
        typealias Row = (Int, String, String, String?, String, String?)
        let rows = try await c.query(
            """
            SELECT batch, hosts, stage, phase_journal, updated, message FROM evac_cycle
            WHERE journal = \(journal) ORDER BY batch
            """, logger: logger)
        var out: [CycleRecord] = []
        for try await r in rows.decode(Row.self) {
            guard let stage = CycleRecord.Stage(rawValue: r.2) else {
                throw Failure(transientText: false, "cycle stage '\(r.2)' is not a cycle stage")
            }
            out.append(
                CycleRecord(
                    batch: r.0, hosts: r.1.split(separator: ",").map(String.init), stage: stage, phaseJournal: r.3,
                    updated: r.4, message: r.5))
        }
        return out
    }

    static func events(
        _ c: PostgresConnection, journal: String, kind: String, id: Int, logger: Logger
    ) async throws
        -> [StepEvent]
    {
        typealias Row = (Int, String, String?, String?, String, String?)
        var out: [StepEvent] = []
        for try await r in try await c.query(
            """
            SELECT run_id, at, from_state, to_state, message, libvirt_error FROM evac_events
            WHERE journal = \(journal) AND kind = \(kind) AND migration_id = \(id) ORDER BY id
            """, logger: logger
        ).decode(Row.self) {
            out.append(StepEvent(runID: r.0, at: r.1, from: r.2, to: r.3, message: r.4, hypervisorError: r.5))
        }
        return out
    }
}

/// The fleet's runs and holds, for `evac status --all`.
public struct FleetRun: Codable, Sendable, Hashable {
    public var journal: String
    public var planName: String
    public var planHash: String
    /// The newest run of the journal, nil when none began.
    public var lastRun: RunRecord?
    public var apply: StepCounts
    public var rollback: StepCounts
    /// Who holds the plan's run lease for this journal, and whether it is live.
    public var holder: String?
    public var leaseLive: Bool?
    public var leaseExpires: String?
    /// The hosts this run drains (its host leases).
    public var draining: [String]
}

/// A reservation as `evac status --all` shows it.
public struct FleetReservation: Codable, Sendable, Hashable {
    public var planName: String
    public var target: String
    public var guest: String
    public var memoryKiB: Int64
    public var vcpus: Int
    public var state: String
}

extension Coordinator {
    /// Every journal in the database with its newest run, step counts and lease, newest first.
    public func fleet() async throws(CoordinatorError) -> (runs: [FleetRun], reservations: [FleetReservation]) {
        try await migrate()
        let logger = self.logger
        return try await link.run("listing the fleet's runs") { c in
            typealias J = (String, String, String, String?, String?, Bool?, String?)
            var runs: [FleetRun] = []
            for try await j in try await c.query(
                """
                SELECT j.journal, j.plan_name, j.plan_hash, l.holder, l.journal, l.expires > now(),
                       to_char(l.expires AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                FROM evac_journals j LEFT JOIN evac_run_leases l ON l.plan_name = j.plan_name AND l.journal = j.journal
                ORDER BY j.created DESC, j.journal
                """, logger: logger
            ).decode(J.self) {
                runs.append(
                    FleetRun(
                        journal: j.0, planName: j.1, planHash: j.2, lastRun: nil, apply: StepCounts(),
                        rollback: StepCounts(), holder: j.3, leaseLive: j.5, leaseExpires: j.6, draining: []))
            }
            for i in runs.indices {
                runs[i].lastRun = try await FleetReader.runs(c, journal: runs[i].journal, logger: logger).last
                let steps = try await FleetReader.steps(c, journal: runs[i].journal, kind: nil, logger: logger)
                runs[i].apply = StepCounts(steps.filter { $0.kind == .apply })
                runs[i].rollback = StepCounts(steps.filter { $0.kind == .rollback })
                if runs[i].holder != nil {
                    for try await h in try await c.query(
                        "SELECT host FROM evac_host_leases WHERE plan_name = \(runs[i].planName) ORDER BY host",
                        logger: logger
                    ).decode(String.self) {
                        runs[i].draining.append(h)
                    }
                }
            }
            var reservations: [FleetReservation] = []
            for try await r in try await c.query(
                """
                SELECT j.plan_name, r.target, r.guest, r.memory_kib, r.vcpus, r.state
                FROM evac_reservations r JOIN evac_journals j USING (journal) ORDER BY r.target, j.plan_name, r.guest
                """, logger: logger
            ).decode((String, String, String, Int64, Int, String).self) {
                reservations.append(
                    FleetReservation(planName: r.0, target: r.1, guest: r.2, memoryKiB: r.3, vcpus: r.4, state: r.5))
            }
            return (runs, reservations)
        }
    }

    /// A journal's status as `evac status` shows it (the same value as for SQLite).
    public func status(planName: String, planHash: String) async throws(CoordinatorError) -> JournalStatus {
        try await migrate()
        let key = Self.journalKey(planName: planName, planHash: planHash)
        let logger = self.logger
        let server = url.server
        return try await link.run("reading journal \(key)") { c in
            let steps = try await FleetReader.steps(c, journal: key, kind: nil, logger: logger)
            let runs = try await FleetReader.runs(c, journal: key, logger: logger)
            let hooks = try await FleetReader.hooks(c, journal: key, logger: logger)
            let cycle = try await FleetReader.cycle(c, journal: key, logger: logger)
            var holder: String?
            for try await (h, live) in try await c.query(
                "SELECT holder, expires > now() FROM evac_run_leases WHERE journal = \(key)", logger: logger
            ).decode((String, Bool).self) {
                holder = live ? h : "\(h), lease expired: the run was interrupted"
            }
            return JournalStatus(
                path: "\(server) journal \(key)", planName: planName, planHash: planHash, activeHolder: holder,
                runs: runs, steps: steps, hooks: hooks, cycle: cycle)
        }
    }

    /// The sealed plan a journal runs, checked against its hash (as SQLite's `storedPlan`).
    public func storedPlan(journal key: String) async throws(CoordinatorError) -> PlanFile {
        try await migrate()
        let logger = self.logger
        let (hash, json): (String, String) = try await link.run("reading the plan of \(key)") { c in
            var found = ("", "")
            for try await r in try await c.query(
                "SELECT plan_hash, plan FROM evac_journals WHERE journal = \(key)", logger: logger
            ).decode((String, String).self) {
                found = r
            }
            return found
        }
        guard !json.isEmpty else { throw .database("no journal \(key) in \(url.server)") }
        switch PlanFile.decode(Data(json.utf8)) {
        case .success(let p):
            guard p.planHash == hash else {
                throw .database("journal \(key) is not trusted: its plan does not match its hash")
            }
            return p
        case .failure(let e): throw .database("journal \(key) is not trusted: its stored plan: \(e.message)")
        }
    }

    /// Journals of a plan name, newest first (`evac resume PLAN.yaml` picks the open one).
    public func journals(planName: String) async throws(CoordinatorError) -> [String] {
        try await migrate()
        let logger = self.logger
        return try await link.run("listing the journals of \(planName)") { c in
            var out: [String] = []
            for try await k in try await c.query(
                "SELECT journal FROM evac_journals WHERE plan_name = \(planName) ORDER BY created DESC", logger: logger
            ).decode(String.self) {
                out.append(k)
            }
            return out
        }
    }
}

/// What the other runs of the fleet hold, as a planner counts it: hosts they drain, and the
/// memory and vCPUs reserved on each target by their migrations in flight (whatever their lease)
/// and planned (while their lease is live).
public struct FleetHolds: Sendable, Hashable {
    /// Host → "plan rack12 (evac apply (pid 4242 on bastion-1))".
    public var drained: [String: String] = [:]
    public var reservedKiB: [String: UInt64] = [:]
    public var reservedVCPUs: [String: Int] = [:]
    public init() {}
}

extension Coordinator {
    /// What runs of plans other than `planName` hold now (see FleetHolds).
    public func holds(otherThan planName: String) async throws(CoordinatorError) -> FleetHolds {
        try await migrate()
        let logger = self.logger
        return try await link.run("reading the fleet's leases and reservations") { c in
            var h = FleetHolds()
            for try await (host, plan, holder) in try await c.query(
                """
                SELECT h.host, l.plan_name, l.holder FROM evac_host_leases h JOIN evac_run_leases l USING (plan_name)
                WHERE h.plan_name <> \(planName) ORDER BY h.host
                """, logger: logger
            ).decode((String, String, String).self) {
                h.drained[host] = "plan \(plan) (\(holder))"
            }
            for try await (target, kib, vcpus) in try await c.query(
                """
                SELECT r.target, sum(r.memory_kib)::bigint, sum(r.vcpus)::bigint
                FROM evac_reservations r JOIN evac_journals j USING (journal)
                LEFT JOIN evac_run_leases l ON l.journal = r.journal
                WHERE j.plan_name <> \(planName) AND (r.state = 'in-flight' OR l.expires > now())
                GROUP BY r.target
                """, logger: logger
            ).decode((String, Int64, Int64).self) {
                h.reservedKiB[target] = UInt64(clamping: kib)
                h.reservedVCPUs[target] = Int(clamping: vcpus)
            }
            return h
        }
    }
}
