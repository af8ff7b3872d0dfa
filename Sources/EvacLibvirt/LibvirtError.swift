import CLibvirt
import EvacCore
import Foundation

/// A libvirt failure, captured on the thread that made the failing call (libvirt errors are
/// thread-local, so they must be read before any `await` or thread hop).
public struct LibvirtError: Error, Sendable, Hashable, CustomStringConvertible {
    /// libvirt's `virErrorNumber` (e.g. 38 = VIR_ERR_SYSTEM_ERROR, 42 = VIR_ERR_NO_DOMAIN).
    public var code: Int32
    /// libvirt's `virErrorDomain`: which part of libvirt raised it.
    public var domain: Int32
    public var message: String
    /// The connection URI (credentials redacted), when the error belongs to a connection.
    public var uri: String?
    /// The libvirt call (or parsing step) that failed, e.g. "virConnectOpenAuth".
    public var operation: String

    public init(code: Int32, domain: Int32, message: String, uri: String?, operation: String) {
        // libvirt's own text can quote the raw URI ("Unable to parse URI …"): redacted too.
        self.code = code
        self.domain = domain
        self.message = LibvirtURI.redactText(message)
        self.uri = uri.map(redactURI)
        self.operation = operation
    }

    public var description: String {
        let place = uri.map { " on \($0)" } ?? ""
        return "libvirt error\(place): \(operation): \(message) (code \(code), domain \(domain))"
    }

    /// Reads and clears the calling thread's last libvirt error. Call right after the failing call.
    static func last(_ operation: String, uri: String?) -> LibvirtError {
        defer { virResetLastError() }
        guard let e = virGetLastError() else {
            return LibvirtError(
                code: Int32(VIR_ERR_INTERNAL_ERROR.rawValue), domain: 0,
                message: "unknown libvirt error", uri: uri, operation: operation)
        }
        let message = e.pointee.message.map { String(cString: $0) } ?? "unknown libvirt error"
        return LibvirtError(
            code: e.pointee.code, domain: e.pointee.domain,
            message: message, uri: uri, operation: operation)
    }

    /// An error of our own making (bad XML from the daemon), shaped like libvirt's.
    static func xml(_ message: String, uri: String?, operation: String) -> LibvirtError {
        LibvirtError(
            code: Int32(VIR_ERR_XML_ERROR.rawValue), domain: 0, message: message,
            uri: uri, operation: operation)
    }

    var isNoSupport: Bool { code == Int32(VIR_ERR_NO_SUPPORT.rawValue) }
    var isNoDomain: Bool { code == Int32(VIR_ERR_NO_DOMAIN.rawValue) }
}

/// Replaces a password in `user:password@host` URIs, so errors and reports never carry one
/// (EvacCore's parser: the user part ends at the *last* "@" of the authority).
func redactURI(_ uri: String) -> String { LibvirtURI.redact(uri) }
