/// How long evac waits for a host before it counts as unreachable (plan `connection:`,
/// `--connect-timeout`, `--call-timeout`). A host that accepts connections but never answers
/// (a frozen libvirtd, a hung ssh) would otherwise hold evac forever: libvirt has no timeout of
/// its own for opening a connection, and a call waits in `poll(…, -1)`.
public struct ConnectionSettings: Hashable, Sendable, Codable {
    /// Opening a connection, authentication and transport (ssh, TLS) included.
    public var connectTimeoutMs: UInt64
    /// Any single answer of a connected host: each call of an inventory read or a pre-check.
    /// Also sets libvirt's keepalive on every connection, which ends any call still waiting on
    /// a host that stopped answering (a migration's included) after about this long.
    public var callTimeoutMs: UInt64

    /// What the plan language and the command line accept, and plan files are checked against.
    public static let boundsMs: ClosedRange<UInt64> = 100...3_600_000

    /// What is out of `boundsMs` (empty when all is well).
    public var problems: [String] {
        [("connect-timeout", connectTimeoutMs), ("call-timeout", callTimeoutMs)]
            .filter { !Self.boundsMs.contains($0.1) }.map { "connection.\($0.0) \($0.1)ms is out of range" }
    }

    /// Long enough for an ssh connection through a jump host; short enough to notice a dead host.
    public static let defaultConnectTimeoutMs: UInt64 = 10_000
    /// Above the connect timeout: a call waits on the host's daemon, which may be busy.
    public static let defaultCallTimeoutMs: UInt64 = 20_000

    /// Settings; the defaults are what a plan without `connection:` gets.
    public init(
        connectTimeoutMs: UInt64 = Self.defaultConnectTimeoutMs, callTimeoutMs: UInt64 = Self.defaultCallTimeoutMs
    ) {
        self.connectTimeoutMs = connectTimeoutMs
        self.callTimeoutMs = callTimeoutMs
    }

    /// libvirt's keepalive: a ping after `interval` seconds of silence, the connection closed
    /// when `count` pings in a row went unanswered, i.e. after about (count + 1) × interval.
    /// Chosen so that this is the call timeout (whole seconds, at least 1 s apart).
    public var keepalive: (intervalSeconds: Int32, count: UInt32) {
        let count: UInt32 = 3
        let seconds = max(1, (callTimeoutMs + 999) / 1000)
        return (Int32(clamping: max(1, seconds / UInt64(count + 1))), count)
    }
}

/// What a migration that failed for a transient reason (see `HypervisorError.Kind.isTransient`)
/// gets: more attempts in the same run, each after a wait that doubles (plan `migration.retry`).
public struct RetryPolicy: Hashable, Sendable, Codable {
    /// Attempts in one run, the first included (1 = never retry).
    public var attempts: Int
    /// The wait before the second attempt; each further one waits twice as long as the last.
    public var backoffMs: UInt64

    /// Three attempts, the second after 10 s (the third after 20 s).
    public static let `default` = RetryPolicy(attempts: 3, backoffMs: 10_000)

    /// A policy of `attempts` in a run, the first retry after `backoffMs`.
    public init(attempts: Int, backoffMs: UInt64) {
        self.attempts = attempts
        self.backoffMs = backoffMs
    }

    /// The wait before attempt `n` (2, 3, …), capped at an hour.
    public func backoffMs(beforeAttempt n: Int) -> UInt64 {
        let cap: UInt64 = 3_600_000
        let (v, overflow) = backoffMs.multipliedReportingOverflow(by: 1 << UInt64(max(0, min(n - 2, 20))))
        return overflow ? cap : min(v, cap)
    }
}
