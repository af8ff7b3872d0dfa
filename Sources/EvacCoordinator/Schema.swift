import PostgresNIO

/// The coordinator's tables, as numbered migrations. Each runs once, in order, in one transaction
/// under an advisory lock, so that two evac processes starting against a new database do not
/// both create it; `evac_schema` records which ran. A database migrated by a newer evac (a
/// version this one does not know) is refused rather than written with old assumptions.
///
/// Tables (all `evac_`):
/// - `journals`: one per plan hash, as one SQLite file is: the sealed plan it runs.
/// - `runs`, `steps`, `events`: the journal itself, the same model as SQLite's.
/// - `commits`: the id of every committed batch, so that a batch retried after a connection
///   broke during COMMIT is not written twice.
/// - `hosts`: one row per host ever leased or targeted; `version` changes with every change of
///   the reservations onto it or of its lease, and a reservation is only taken at the version
///   its pre-check read.
/// - `run_leases`: one per plan name with a run in progress (who, until when); `host_leases`: the
///   hosts that run drains.
/// - `reservations`: memory and vCPUs of migrations planned (`planned`) or started (`in-flight`)
///   onto a target.
enum Schema {
    struct Migration {
        var version: Int
        var name: String
        var statements: [String]
    }

    /// Arbitrary, fixed: the advisory lock taken while migrating.
    static let lockKey: Int64 = 0x6576_6163_0001

    static let migrations: [Migration] = [
        Migration(
            version: 1, name: "journals, host leases, capacity reservations",
            statements: [
                """
                CREATE TABLE evac_journals (
                    journal text PRIMARY KEY, plan_name text NOT NULL, plan_hash text NOT NULL,
                    plan text NOT NULL, created timestamptz NOT NULL DEFAULT now())
                """,
                """
                CREATE TABLE evac_runs (
                    journal text NOT NULL REFERENCES evac_journals ON DELETE CASCADE, id integer NOT NULL,
                    kind text NOT NULL, plan_hash text NOT NULL, plan_name text NOT NULL, started text NOT NULL,
                    finished text, exit_status text, command text NOT NULL, holder text NOT NULL,
                    PRIMARY KEY (journal, id))
                """,
                """
                CREATE TABLE evac_steps (
                    journal text NOT NULL REFERENCES evac_journals ON DELETE CASCADE, kind text NOT NULL,
                    migration_id integer NOT NULL, guest text NOT NULL, uuid text NOT NULL, source text NOT NULL,
                    target text NOT NULL, state text NOT NULL, attempt integer NOT NULL, reason text,
                    started text, finished text, stats text,
                    PRIMARY KEY (journal, kind, migration_id))
                """,
                """
                CREATE TABLE evac_events (
                    id bigserial PRIMARY KEY, journal text NOT NULL REFERENCES evac_journals ON DELETE CASCADE,
                    run_id integer NOT NULL, kind text NOT NULL, migration_id integer, at text NOT NULL,
                    from_state text, to_state text, message text NOT NULL, libvirt_error text)
                """,
                "CREATE INDEX evac_events_by_step ON evac_events (journal, kind, migration_id)",
                """
                CREATE TABLE evac_commits (
                    batch uuid PRIMARY KEY, journal text NOT NULL, at timestamptz NOT NULL DEFAULT now())
                """,
                "CREATE TABLE evac_hosts (host text PRIMARY KEY, version bigint NOT NULL DEFAULT 0)",
                "CREATE SEQUENCE evac_admissions",
                """
                CREATE TABLE evac_run_leases (
                    plan_name text PRIMARY KEY, journal text NOT NULL REFERENCES evac_journals,
                    kind text NOT NULL, token uuid NOT NULL, holder text NOT NULL, admitted bigint NOT NULL,
                    acquired timestamptz NOT NULL, renewed timestamptz NOT NULL, expires timestamptz NOT NULL)
                """,
                """
                CREATE TABLE evac_host_leases (
                    host text PRIMARY KEY REFERENCES evac_hosts,
                    plan_name text NOT NULL REFERENCES evac_run_leases ON DELETE CASCADE)
                """,
                """
                CREATE TABLE evac_reservations (
                    journal text NOT NULL REFERENCES evac_journals ON DELETE CASCADE, kind text NOT NULL,
                    migration_id integer NOT NULL, target text NOT NULL REFERENCES evac_hosts, guest text NOT NULL,
                    uuid text NOT NULL, memory_kib bigint NOT NULL, vcpus integer NOT NULL,
                    state text NOT NULL CHECK (state IN ('planned', 'in-flight')),
                    PRIMARY KEY (journal, kind, migration_id))
                """,
                "CREATE INDEX evac_reservations_by_target ON evac_reservations (target)",
            ]),
        // SQLite's journal gained hooks (issue 13): the same rows, per journal.
        Migration(
            version: 2, name: "hooks, hook passes, rolling cycles",
            statements: [
                """
                CREATE TABLE evac_hooks (
                    journal text NOT NULL REFERENCES evac_journals ON DELETE CASCADE, point text NOT NULL,
                    hook text NOT NULL, scope text NOT NULL, pass integer NOT NULL, run_id integer NOT NULL,
                    state text NOT NULL, subject text NOT NULL, exit_status integer, started text NOT NULL,
                    finished text, output text, message text, written bigserial,
                    PRIMARY KEY (journal, point, hook, scope, pass))
                """,
                """
                CREATE TABLE evac_hook_passes (
                    journal text NOT NULL REFERENCES evac_journals ON DELETE CASCADE, scope text NOT NULL,
                    closed integer NOT NULL, attempt_at_close integer NOT NULL, PRIMARY KEY (journal, scope))
                """,
                """
                CREATE TABLE evac_cycle (
                    journal text NOT NULL REFERENCES evac_journals ON DELETE CASCADE, batch integer NOT NULL,
                    hosts text NOT NULL, stage text NOT NULL, phase_journal text, updated text NOT NULL,
                    message text, PRIMARY KEY (journal, batch))
                """,
            ]),
        // SQLite's journal gained progress samples for `status --follow`: the latest per step.
        Migration(
            version: 3, name: "progress samples",
            statements: [
                """
                CREATE TABLE evac_progress (
                    journal text NOT NULL REFERENCES evac_journals ON DELETE CASCADE, kind text NOT NULL,
                    migration_id integer NOT NULL, run_id integer NOT NULL, attempt integer NOT NULL,
                    at text NOT NULL, sample text NOT NULL, PRIMARY KEY (journal, kind, migration_id))
                """
            ]),
    ]

    static var latest: Int { migrations.map(\.version).max() ?? 0 }

    /// Brings the database to `latest`; returns the versions it applied (none when current).
    static func migrate(_ c: PostgresConnection, logger: Logger) async throws -> [Int] {
        try await c.withTransaction(logger: logger) { c in
            try await c.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
            try await c.query(
                """
                CREATE TABLE IF NOT EXISTS evac_schema (
                    version integer PRIMARY KEY, name text NOT NULL, applied timestamptz NOT NULL DEFAULT now())
                """, logger: logger)
            var current = 0
            for try await v in try await c.query("SELECT coalesce(max(version), 0) FROM evac_schema", logger: logger)
                .decode(Int.self)
            {
                current = v
            }
            if current > latest {
                throw SchemaTooNew(found: current, known: latest)
            }
            var applied: [Int] = []
            for m in migrations where m.version > current {
                for s in m.statements { try await c.query(PostgresQuery(unsafeSQL: s), logger: logger) }
                try await c.query(
                    "INSERT INTO evac_schema (version, name) VALUES (\(m.version), \(m.name))", logger: logger)
                applied.append(m.version)
            }
            return applied
        }
    }
}

struct SchemaTooNew: Error, CustomStringConvertible {
    var found: Int
    var known: Int
    var description: String {
        "the database's schema is at version \(found), newer than this evac knows (\(known)): upgrade evac on this machine"
    }
}
