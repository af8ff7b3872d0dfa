import EvacCore
import EvacRun
import Foundation
import Logging
import PostgresNIO

/// A connection to the coordinator's database: opens run journals in it and reads the fleet's.
/// One per process (`evac apply`, `status`, …); `shutdown()` closes its connections.
public final class Coordinator: Sendable {
    public let url: CoordinatorURL
    let link: PostgresLink
    let logger = Logger(label: "evac.coordinator")
    let notice: @Sendable (String) -> Void

    /// Connects lazily; the first call migrates the schema if needed. `notice` receives the
    /// waiting and recovery messages (stderr in the CLI). The password comes from `environment`'s
    /// PGPASSWORD or password file; a warning about an unusable password file goes to `notice`.
    public init(
        url: CoordinatorURL, environment: [String: String] = ProcessInfo.processInfo.environment,
        timing: CoordinatorTiming? = nil, notice: @escaping @Sendable (String) -> Void = { _ in }
    )
        throws(CoordinatorError)
    {
        self.url = url
        self.notice = notice
        let found = PasswordSource.lookup(url, environment: environment)
        if let w = found.warning { notice("warning: \(w)") }
        let t: CoordinatorTiming
        if let timing { t = timing } else { t = try CoordinatorTiming.from(environment: environment) }
        link = try PostgresLink(url: url, password: found.password, timing: t, notice: notice)
    }

    /// Creates or upgrades the schema; returns the versions applied now.
    @discardableResult
    public func migrate() async throws(CoordinatorError) -> [Int] {
        let logger = self.logger
        return try await link.run("migrating the schema") { c in
            do { return try await Schema.migrate(c, logger: logger) } catch let e as SchemaTooNew {
                throw Failure(transientText: false, e.description)
            }
        }
    }

    /// The journal of `plan` in the database (created on first use), ready for an executor.
    /// `holder` names this process in leases and in `evac status`.
    public func journal(
        for plan: PlanFile, holder: String = Coordinator.holder()
    ) async throws(CoordinatorError)
        -> PostgresJournal
    {
        try await migrate()
        let key = Self.journalKey(planName: plan.planName, planHash: plan.planHash)
        let json = String(decoding: plan.encoded(), as: UTF8.self)
        let name = plan.planName
        let hash = plan.planHash
        try await link.run("opening journal \(key)") { c in
            try await c.query(
                """
                INSERT INTO evac_journals (journal, plan_name, plan_hash, plan) VALUES (\(key), \(name), \(hash), \(json))
                ON CONFLICT (journal) DO NOTHING
                """, logger: self.logger)
        }
        return PostgresJournal(coordinator: self, plan: plan, key: key, holder: holder)
    }

    public func shutdown() async { await link.shutdown() }

    func noticeTakeover(_ text: String) { notice(text) }

    /// A plan's journal key: its name and full hash (one journal per plan hash, as one file).
    public static func journalKey(planName: String, planHash: String) -> String { "\(planName)-\(planHash)" }

    /// "evac apply (pid 4242 on bastion-1)".
    public static func holder() -> String {
        let cmd = CommandLine.arguments.prefix(2).map { ($0 as NSString).lastPathComponent }.joined(separator: " ")
        return "\(cmd.isEmpty ? "evac" : cmd) (pid \(getpid()) on \(ProcessInfo.processInfo.hostName))"
    }
}

extension Failure {
    init(transientText transient: Bool, _ text: String) {
        self.transient = transient
        self.text = text
    }
}
