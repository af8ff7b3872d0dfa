import EvacRun
import Logging
import PostgresNIO

/// The fleet's `RunCoordinator`: what other runs hold on a target, read from the coordinator's
/// database for the run of `journal`. Counted: other runs' migrations in flight onto the target
/// (whatever their lease: a dead runner's migration may still be going), and the planned ones
/// of runs admitted before this one whose lease is live (so that a later plan does not take the
/// room an earlier one was promised, and two runs never wait for each other).
public struct PostgresCoordinator: RunCoordinator {
    let journal: PostgresJournal

    public init(journal: PostgresJournal) { self.journal = journal }

    public func commitments(on target: String) async throws(CoordinatorError) -> TargetCommitments {
        let key = journal.key
        let name = journal.planName
        let admitted = journal.admitted ?? Int64.max
        let logger = journal.coordinator.logger
        return try await journal.coordinator.link.run("reading the reservations on \(target)") { c in
            // The version first: anything that changes after it makes the claim check again.
            var version: Int64 = 0
            for try await v in try await c.query(
                "SELECT version FROM evac_hosts WHERE host = \(target)", logger: logger
            )
            .decode(Int64.self) {
                version = v
            }
            var entries: [TargetCommitments.Entry] = []
            for try await r in try await c.query(
                """
                SELECT r.uuid, r.guest, r.memory_kib, r.vcpus, r.state, j.plan_name
                FROM evac_reservations r JOIN evac_journals j USING (journal)
                LEFT JOIN evac_run_leases l ON l.journal = r.journal
                WHERE r.target = \(target) AND r.journal <> \(key)
                  AND (r.state = 'in-flight' OR (l.expires > now() AND l.admitted < \(admitted)))
                ORDER BY r.journal, r.kind, r.migration_id
                """, logger: logger
            ).decode((String, String, Int64, Int, String, String).self) {
                entries.append(
                    .init(
                        uuid: r.0, guest: r.1, memoryKiB: UInt64(clamping: r.2), vcpus: r.3,
                        holder: "plan \(r.5) (\(r.4))"))
            }
            var drained: String?
            for try await (other, holder) in try await c.query(
                """
                SELECT l.plan_name, l.holder FROM evac_host_leases h JOIN evac_run_leases l USING (plan_name)
                WHERE h.host = \(target) AND h.plan_name <> \(name)
                """, logger: logger
            ).decode((String, String).self) {
                drained = "plan \(other) (\(holder))"
            }
            return TargetCommitments(entries: entries, drainedBy: drained, version: version)
        }
    }
}
