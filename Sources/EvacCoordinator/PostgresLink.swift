import EvacCore
import EvacLog
import EvacRun
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// How long the coordinator waits, and for what.
public struct CoordinatorTiming: Sendable, Hashable {
    /// One attempt of one database call (connect, or a statement, or a transaction).
    public var attempt: Duration = .seconds(10)
    /// How long a call keeps retrying while the database is unreachable (restarted, partitioned)
    /// before it fails with a clear message. Migrations in flight go on meanwhile; none starts.
    public var outage: Duration = .seconds(300)
    /// A run's lease expires this long after its last renewal (heartbeat every third of it).
    public var leaseTTL: Duration = .seconds(60)
    public init() {}

    /// From `EVAC_COORDINATOR_WAIT` and `EVAC_LEASE_TTL` (durations such as 90s, 5m).
    public static func from(environment: [String: String]) throws(CoordinatorError) -> CoordinatorTiming {
        var t = CoordinatorTiming()
        for (name, apply) in [
            ("EVAC_COORDINATOR_WAIT", { (d: Duration, t: inout CoordinatorTiming) in t.outage = d }),
            ("EVAC_LEASE_TTL", { (d: Duration, t: inout CoordinatorTiming) in t.leaseTTL = d }),
        ] {
            guard let text = environment[name], !text.isEmpty else { continue }
            guard case .success(let ms) = Units.duration(text), ms >= 1000 else {
                throw .database("\(name)=\(text): expected a duration of at least 1s, such as 30s or 5m")
            }
            apply(.milliseconds(ms), &t)
        }
        if t.leaseTTL < .seconds(3) { t.leaseTTL = .seconds(3) }
        return t
    }
}

/// A few connections to the coordinator's database, each used by one caller at a time, with a
/// deadline on every attempt and a bounded wait through outages. A call that times out closes
/// its connection (a socket to a partitioned server may never answer), so the next attempt
/// starts on a new one.
///
/// Sole owner of its connections; `shutdown()` closes them.
final class PostgresLink: Sendable {
    let url: CoordinatorURL
    let timing: CoordinatorTiming
    private let password: String?
    private let notice: @Sendable (String) -> Void
    private let pool: Pool
    private let logger: Logger
    private let tls: PostgresConnection.Configuration.TLS

    init(
        url: CoordinatorURL, password: String?, timing: CoordinatorTiming, connections: Int = 4,
        notice: @escaping @Sendable (String) -> Void
    ) throws(CoordinatorError) {
        self.url = url
        self.password = password
        self.timing = timing
        self.notice = notice
        self.pool = Pool(size: max(1, connections))
        // postgres-nio logs at debug and trace only; EvacLog's handler keeps it silent unless
        // --verbose. It never logs a password (SCRAM sends none).
        self.logger = Logger(label: "evac.coordinator.postgres")
        switch url.tls {
        case .disable: tls = .disable
        case .prefer, .require:
            var c = TLSConfiguration.makeClientConfiguration()
            if url.tls == .prefer { c.certificateVerification = .none }
            do {
                let ctx = try NIOSSLContext(configuration: c)
                tls = url.tls == .prefer ? .prefer(ctx) : .require(ctx)
            } catch {
                throw .database("coordinator \(url.server): cannot set up TLS: \(error)")
            }
        }
    }

    /// Runs `body` on a connection of its own, retrying on a new connection while the server
    /// cannot be reached, until `timing.outage` has passed. `what` names the call in messages.
    /// Errors of the statements themselves (not of the connection) are not retried.
    func run<T: Sendable>(
        _ what: String, outage: Duration? = nil,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws(CoordinatorError) -> T {
        let clock = ContinuousClock()
        let start = clock.now
        let budget = outage ?? timing.outage
        var attempt = 0
        var warned = false
        while true {
            attempt += 1
            do {
                let value = try await once(body)
                if warned { notice("coordinator \(url.server) answers again; the run goes on") }
                return value
            } catch let failure {
                if let own = failure.own { throw own }
                guard failure.transient else { throw .database("coordinator \(url.server): \(what): \(failure.text)") }
                let waited = clock.now - start
                if waited >= budget {
                    throw .unreachable(
                        server: url.server, waited: Self.text(waited),
                        why: "\(what): \(failure.text)")
                }
                if !warned && attempt >= 2 {
                    warned = true
                    notice(
                        "coordinator \(url.server) is not answering (\(failure.text)); no new migration starts "
                            + "until it is back (waiting up to \(Self.text(budget)))")
                }
                let pause = min(Duration.milliseconds(100 << min(attempt, 5)), .seconds(2))
                try? await Task.sleep(for: min(pause, max(budget - waited, .milliseconds(10))))
            }
        }
    }

    /// One attempt: a connection slot, a connection (reused or new), the body, each waited for
    /// at most `timing.attempt`. A body past its deadline is left behind on its closed
    /// connection (see `deadline`); the slot gets a new connection on its next use.
    private func once<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws(Failure) -> T {
        guard let slot = await pool.acquire(within: timing.attempt) else {
            throw Failure(TimedOut(limit: timing.attempt, what: "no free connection of \(pool.size)"))
        }
        var healthy = false
        defer { pool.release(slot, healthy: healthy) }
        let connection: PostgresConnection
        do {
            if let c = slot.connection, !c.isClosed {
                connection = c
            } else {
                slot.connection = nil
                connection = try await deadline(timing.attempt, onTimeout: {}, abandoned: { discard($0) }) {
                    [self] in try await connect(slot.id)
                }
                slot.connection = connection
            }
        } catch {
            throw Failure(error)
        }
        do {
            let value = try await deadline(timing.attempt, onTimeout: { discard(connection) }) {
                try await body(connection)
            }
            healthy = true
            return value
        } catch {
            let f = Failure(error)
            // A statement error leaves the connection usable; anything else does not.
            healthy = !f.transient && !connection.isClosed
            if !healthy { discard(connection) }
            throw f
        }
    }

    private func connect(_ id: Int) async throws -> PostgresConnection {
        var config: PostgresConnection.Configuration
        if let socket = url.socketPath {
            config = .init(unixSocketPath: socket, username: url.user, password: password, database: url.database)
        } else {
            config = .init(
                host: url.host, port: url.port, username: url.user, password: password, database: url.database,
                tls: tls)
        }
        config.options.connectTimeout = .milliseconds(Int64(timing.attempt / .milliseconds(1)))
        return try await PostgresConnection.connect(configuration: config, id: id, logger: logger)
    }

    /// Closes every connection.
    func shutdown() async {
        for c in pool.drain() { try? await c.close() }
    }

    static func text(_ d: Duration) -> String {
        let s = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        if s >= 60 { return "\(Int(s) / 60)m\(Int(s) % 60 == 0 ? "" : "\(Int(s) % 60)s")" }
        return s == s.rounded() ? "\(Int(s))s" : String(format: "%.1fs", s)
    }
}

/// An error of one attempt, sorted into "the server was not there" (retry) or not.
struct Failure: Error {
    var transient: Bool
    var text: String
    /// A refusal of evac's own (a lease held, a target changed): passed on as it is.
    var own: CoordinatorError?

    init(_ error: any Error) {
        var e: any Error = error
        if let t = e as? PostgresTransactionError {
            e = t.beginError ?? t.closureError ?? t.commitError ?? t.rollbackError ?? e
        }
        if let f = e as? Failure {
            self = f
            return
        }
        if let c = e as? CoordinatorError {
            transient = false
            text = c.description
            own = c
            return
        }
        if let p = e as? PSQLError {
            let state = p.serverInfo?[.sqlState]
            let message = p.serverInfo?[.message]
            if let state {
                // 08: connection exceptions; 57P01-57P03: the server shuts down, restarts or is
                // starting; 53300: too many connections; 40001/40P01: retry the transaction.
                transient =
                    state.hasPrefix("08") || state.hasPrefix("57P") || state == "53300" || state == "40001"
                    || state == "40P01"
                text = "\(message ?? "error") (SQLSTATE \(state))"
            } else {
                transient = p.code != .server
                text = Self.describe(p)
            }
            return
        }
        if e is TimedOut || e is ChannelError || e is IOError || e is NIOConnectionError || e is CancellationError {
            transient = !(e is CancellationError)
            text = "\(e)"
            return
        }
        transient = false
        text = LibvirtURI.redactText("\(e)")
    }

    static func describe(_ p: PSQLError) -> String {
        if let u = p.underlying { return "\(p.code): \(u)" }
        return "\(p.code)"
    }
}

/// Closes a connection without waiting, keeping it alive until its channel is closed (a
/// PostgresConnection must be closed before it is released).
func discard(_ c: PostgresConnection) {
    c.close().whenComplete { _ in withExtendedLifetime(c) {} }
}
