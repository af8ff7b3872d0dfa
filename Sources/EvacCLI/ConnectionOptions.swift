import ArgumentParser
import EvacCore

/// `--connect-timeout` and `--call-timeout`, on every command that contacts hosts: for this
/// command only, instead of the plan's `connection:` (or the defaults).
struct ConnectionOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Longest wait for a host to accept a libvirt connection (ssh, TLS and authentication included), e.g. 10s; then it is unreachable.",
            discussion: "Default: the plan's connection.connect-timeout, else 10s.", valueName: "DURATION"),
        transform: DurationArgument.connectionDeadline)
    var connectTimeout: DurationArgument?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Longest wait for any single answer of a connected host (inventory reads, pre-checks), e.g. 20s; also sets libvirt's keepalive.",
            discussion: "Default: the plan's connection.call-timeout, else 20s.", valueName: "DURATION"),
        transform: DurationArgument.connectionDeadline)
    var callTimeout: DurationArgument?

    /// The plan's settings (or the defaults) with these options applied.
    func settings(_ plan: ConnectionSettings?) -> ConnectionSettings {
        var s = plan ?? ConnectionSettings()
        if let connectTimeout { s.connectTimeoutMs = connectTimeout.milliseconds }
        if let callTimeout { s.callTimeoutMs = callTimeout.milliseconds }
        return s
    }
}
