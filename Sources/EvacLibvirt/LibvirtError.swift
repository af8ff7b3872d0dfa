internal import CLibvirt
import EvacCore
import Foundation

/// A libvirt failure, captured on the thread that made the failing call by `Libvirt.call`
/// (libvirt errors are thread-local and reset by the next libvirt call), or one of evac's own
/// making (a guest missing, a daemon that did not answer in time, XML that does not parse).
public struct LibvirtError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure, as far as evac acts on it.
    public enum Kind: String, Sendable, Hashable {
        case noDomain = "no-domain"
        case noSupport = "no-support"
        case aborted
        case operationInvalid = "operation-invalid"
        /// A connection died: ours to the host (EOF, reset, keepalive), or the host's to its
        /// peer (the source daemon's to the target in a peer-to-peer migration).
        case connectionLost = "connection-lost"
        case noMigrationPort = "no-migration-port"
        case cpuIncompatible = "cpu-incompatible"
        case noMemory = "no-memory"
        case authFailed = "auth-failed"
        /// libvirt timed out (VIR_ERR_OPERATION_TIMEOUT: e.g. the guest's job lock is held).
        case timeout
        /// evac stopped waiting: the host did not answer within the deadline.
        case noAnswer = "no-answer"
        /// evac stopped waiting: the run was interrupted.
        case interrupted
        case xml
        case other
    }

    public var kind: Kind
    /// libvirt's `virErrorNumber` (e.g. 38 = VIR_ERR_SYSTEM_ERROR); nil for errors evac made.
    public var code: Int32?
    /// libvirt's `virErrorDomain`: which part of libvirt raised it; nil for errors evac made.
    public var domain: Int32?
    public var message: String
    /// The connection URI (credentials redacted), when the error belongs to a connection.
    public var uri: String?
    /// The libvirt call (or step) that failed, e.g. "virDomainGetJobStats(web-1)".
    public var operation: String
    /// The failure was evac's own connection to the host (it did not open, or it died), not
    /// the operation: the host is unreachable, whatever the operation was.
    public var hostUnreachable = false

    /// A libvirt error as `Libvirt.call` read it.
    init(code: Int32, domain: Int32, message: String, uri: String?, operation: String) {
        self.init(
            Self.classify(code: code, domain: domain, message: message), code: code, domain: domain,
            message: message, uri: uri, operation: operation)
    }

    /// An error of evac's own making.
    init(_ kind: Kind, message: String, uri: String?, operation: String) {
        self.init(kind, code: nil, domain: nil, message: message, uri: uri, operation: operation)
    }

    private init(_ kind: Kind, code: Int32?, domain: Int32?, message: String, uri: String?, operation: String) {
        // libvirt's own text can quote the raw URI ("Unable to parse URI …"): redacted too.
        self.kind = kind
        self.code = code
        self.domain = domain
        self.message = Self.explained(LibvirtURI.redactText(message))
        self.uri = uri.map(redactURI)
        self.operation = operation
    }

    /// What ssh says of an unknown or changed host key, passed on by libvirt's ssh transport
    /// ("Host key verification failed."), with whose file lacked it and what to do. evac never
    /// asks for unverified connections (`no_verify`), so this stays a refusal.
    static let unknownHostKeyHint =
        "the host's ssh key is not in the known_hosts of the user that connected, or differs from it"
        + " (evac's user; for a peer-to-peer migration, the source host's libvirtd user, root):"
        + " compare its fingerprint out of band, then add it (ssh-keyscan HOST >> ~/.ssh/known_hosts)"

    static func explained(_ message: String) -> String {
        guard message.contains("Host key verification failed") else { return message }
        return "\(message) — \(unknownHostKeyHint)"
    }

    public var description: String {
        let place = uri.map { " on \($0)" } ?? ""
        let number = code.map { " (code \($0), domain \(domain ?? 0))" } ?? ""
        return "libvirt error\(place): \(operation): \(message)\(number)"
    }

    /// No guest with this UUID on the host (a typed case, not a rebuilt VIR_ERR_NO_DOMAIN).
    static func noDomain(
        uuid: String, name: String? = nil, uri: String?, operation: String = "virDomainLookupByUUIDString"
    ) -> LibvirtError {
        LibvirtError(
            .noDomain, message: "no domain with UUID \(uuid)\(name.map { " (\($0))" } ?? "")", uri: uri,
            operation: operation)
    }

    /// An XML document from the daemon that does not parse, shaped like libvirt's errors.
    static func xml(_ message: String, uri: String?, operation: String) -> LibvirtError {
        LibvirtError(.xml, message: message, uri: uri, operation: operation)
    }

    func reachingTheHost() -> LibvirtError {
        var e = self
        e.hostUnreachable = true
        return e
    }

    var isNoSupport: Bool { kind == .noSupport }
    var isNoDomain: Bool { kind == .noDomain }
    var isOperationAborted: Bool { kind == .aborted }

    /// Sorts a libvirt error by code, then by the message where libvirt uses a generic code
    /// (a full port range and a lost peer are VIR_ERR_INTERNAL_ERROR / OPERATION_FAILED).
    /// Messages are libvirt 9.0's, checked on the lab.
    static func classify(code: Int32, domain: Int32, message: String) -> Kind {
        func `is`(_ e: virErrorNumber) -> Bool { code == Int32(e.rawValue) }
        if `is`(VIR_ERR_NO_DOMAIN) { return .noDomain }
        if `is`(VIR_ERR_NO_SUPPORT) || `is`(VIR_ERR_OPERATION_UNSUPPORTED) || `is`(VIR_ERR_ARGUMENT_UNSUPPORTED) {
            return .noSupport
        }
        if `is`(VIR_ERR_OPERATION_ABORTED) { return .aborted }
        if `is`(VIR_ERR_CPU_INCOMPATIBLE) { return .cpuIncompatible }
        if `is`(VIR_ERR_AUTH_FAILED) || `is`(VIR_ERR_AUTH_CANCELLED) || `is`(VIR_ERR_AUTH_UNAVAILABLE) {
            return .authFailed
        }
        if `is`(VIR_ERR_OPERATION_TIMEOUT) { return .timeout }
        let m = message.lowercased()
        if m.contains("unused port") || m.contains("available port") { return .noMigrationPort }
        // The guest's QEMU went away ("Unable to read from monitor: Connection reset by peer"):
        // a dead guest, not a lost link, whatever the words say.
        if m.contains("monitor") { return m.contains("cannot allocate memory") ? .noMemory : .other }
        if `is`(VIR_ERR_NO_CONNECT) || `is`(VIR_ERR_RPC) || domain == Int32(VIR_FROM_RPC.rawValue)
            || [
                "lost connection", "keepalive timeout", "end of file while", "connection reset", "broken pipe",
                "cannot recv data", "cannot write data", "client socket is closed", "connection refused",
            ].contains(where: m.contains)
        {
            return .connectionLost
        }
        if m.contains("cannot allocate memory") || m.contains("out of memory") { return .noMemory }
        if `is`(VIR_ERR_OPERATION_INVALID) { return .operationInvalid }
        return .other
    }
}

/// Replaces a password in `user:password@host` URIs, so errors and reports never carry one
/// (EvacCore's parser: the user part ends at the *last* "@" of the authority).
func redactURI(_ uri: String) -> String { LibvirtURI.redact(uri) }
