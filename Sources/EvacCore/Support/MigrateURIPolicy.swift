/// What a host's `migrate-uri:` (libvirt's `VIR_MIGRATE_PARAM_URI`, virsh `--migrateuri`) may
/// say: where the source's QEMU sends the migration stream when this host is the target. It is
/// a QEMU address, not a libvirt connection URI: `tcp://ADDRESS[:PORT]` (a dedicated migration
/// network), `rdma://ADDRESS[:PORT]`, or `unix:///PATH`. Nothing else reaches QEMU: no
/// credentials, parameters or fragments, and no text beyond an address, a port and a path.
public enum MigrateURIPolicy {
    /// The schemes QEMU's incoming migration accepts that make sense between hosts.
    public static let schemes = ["tcp", "rdma", "unix"]

    /// Every problem of `text` (empty when it is a usable migrate URI).
    public static func problems(_ text: String) -> [URIPolicy.Problem] {
        let example = "write e.g. tcp://10.0.0.5 (an address on the migration network) or tcp://10.0.0.5:49152"
        let uri: LibvirtURI
        switch LibvirtURI.parse(text) {
        case .success(let u): uri = u
        case .failure(let e):
            return [.init(message: "migrate-uri is not a URI: \(e.reason)", help: example, risk: nil)]
        }
        guard schemes.contains(uri.scheme), uri.hasAuthority else {
            return [
                .init(
                    message: "migrate-uri scheme '\(TerminalText.escape(uri.scheme))' is not one QEMU migrates over",
                    help: "use tcp://, rdma:// or unix:///; \(example)", risk: nil)
            ]
        }
        var out: [URIPolicy.Problem] = []
        if uri.userInfo != nil {
            out.append(
                .init(
                    message: "migrate-uri carries credentials",
                    help: "QEMU's migration stream takes none; remove the user part", risk: nil))
        }
        if !uri.parameters.isEmpty || uri.fragment != nil {
            out.append(
                .init(
                    message: "migrate-uri has parameters or a fragment",
                    help: "QEMU reads an address and a port only; remove them", risk: nil))
        }
        if uri.scheme == "unix" {
            if !uri.host.isEmpty || uri.port != nil || !URIPolicy.isPlainPath(uri.path, allowEmpty: false) {
                out.append(
                    .init(
                        message: "migrate-uri unix:// needs an absolute path of letters, digits and /._- only",
                        help: "write unix:///var/run/evac-migrate.sock", risk: nil))
            }
            return out
        }
        if !isAddress(uri.host) {
            out.append(
                .init(
                    message: "migrate-uri host '\(TerminalText.escape(uri.host))' is not an address or host name",
                    help: example, risk: nil))
        }
        if let port = uri.port, !(UInt16(port).map { $0 > 0 } ?? false) {
            out.append(
                .init(
                    message: "migrate-uri port '\(TerminalText.escape(port))' is not from 1 to 65535", help: example,
                    risk: nil))
        }
        if !uri.path.isEmpty && uri.path != "/" {
            out.append(
                .init(
                    message: "migrate-uri has a path",
                    help: "\(uri.scheme):// takes an address and a port only; \(example)", risk: nil))
        }
        return out
    }

    /// A host name or IPv4 address (letters, digits, '.', '-', not starting with '-'), or an
    /// IPv6 address in brackets.
    static func isAddress(_ host: String) -> Bool {
        if host.hasPrefix("[") {
            let inner = host.dropFirst().dropLast()
            return host.hasSuffix("]") && !inner.isEmpty && inner.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
        }
        return URIPolicy.isName(host) && !host.contains("_")
    }
}
