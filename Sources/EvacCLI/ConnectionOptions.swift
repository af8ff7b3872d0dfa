import ArgumentParser
import EvacCore

/// `--connect-timeout` and `--call-timeout`, on every command that contacts hosts: for this
/// command only, instead of the plan's `connection:` (or the defaults).
struct ConnectionOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Longest wait for a host to accept a libvirt connection (ssh, TLS and authentication included), e.g. 10s; then it is unreachable.",
            discussion: "Default: the plan's connection.connect-timeout, else 10s.", valueName: "DURATION"))
    var connectTimeout: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Longest wait for any single answer of a connected host (inventory reads, pre-checks), e.g. 20s; also sets libvirt's keepalive.",
            discussion: "Default: the plan's connection.call-timeout, else 20s.", valueName: "DURATION"))
    var callTimeout: String?

    func validate() throws {
        for (name, value) in [("--connect-timeout", connectTimeout), ("--call-timeout", callTimeout)] {
            guard let value else { continue }
            switch Units.duration(value) {
            case .failure(let f): throw ValidationError("\(name): \(f.message) (\(f.help))")
            case .success(let ms) where !ConnectionSettings.boundsMs.contains(ms):
                throw ValidationError("\(name) must be between 100ms and 1h")
            case .success: break
            }
        }
    }

    /// The plan's settings (or the defaults) with these options applied.
    func settings(_ plan: ConnectionSettings?) -> ConnectionSettings {
        var s = plan ?? ConnectionSettings()
        if let v = connectTimeout, let ms = try? Units.duration(v).get() { s.connectTimeoutMs = ms }
        if let v = callTimeout, let ms = try? Units.duration(v).get() { s.callTimeoutMs = ms }
        return s
    }
}
