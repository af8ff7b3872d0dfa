import CLibvirt
import Foundation

/// Migration and job calls on one domain. All blocking; errors are read on the calling thread.
extension LibvirtDomain {
    /// The XML to base a destination XML on: migratable (no runtime-only parts) and secure
    /// (keeps secrets such as VNC passwords, so the target gets them). Never log it.
    func migratableXML() throws(LibvirtError) -> String {
        let flags = VIR_DOMAIN_XML_MIGRATABLE.rawValue | VIR_DOMAIN_XML_SECURE.rawValue
        guard let xml = takeString(virDomainGetXMLDesc(handle, flags)) else {
            throw connection.fail("virDomainGetXMLDesc(\(name), migratable)")
        }
        return xml
    }

    /// Starts a defined domain (lab set-up).
    public func start() throws(LibvirtError) {
        guard virDomainCreate(handle) == 0 else { throw connection.fail("virDomainCreate(\(name))") }
    }

    /// Live XML (flags 0): a running guest's CPU as started.
    func liveXML() throws(LibvirtError) -> String { try xmlDesc(inactive: false) }

    /// Statistics of the job running now: (virDomainJobType, stats). Type 0 = no job.
    func jobStats() throws(LibvirtError) -> (type: Int32, stats: [String: String]) {
        var type: Int32 = 0
        var params: virTypedParameterPtr?
        var n: Int32 = 0
        guard virDomainGetJobStats(handle, &type, &params, &n, 0) == 0 else {
            throw connection.fail("virDomainGetJobStats(\(name))")
        }
        defer { virTypedParamsFree(params, n) }
        return (type, typedParamsDictionary(params, n))
    }

    func abortJob() throws(LibvirtError) {
        guard virDomainAbortJob(handle) == 0 else { throw connection.fail("virDomainAbortJob(\(name))") }
    }

    func setMaxDowntime(milliseconds: UInt64) throws(LibvirtError) {
        guard virDomainMigrateSetMaxDowntime(handle, milliseconds, 0) == 0 else {
            throw connection.fail("virDomainMigrateSetMaxDowntime(\(name))")
        }
    }

    /// Peer-to-peer migration: the source daemon connects to `destURI` itself. Blocks for the
    /// whole migration.
    func migrateToURI3(_ destURI: String, params: TypedParams, flags: UInt32) throws(LibvirtError) {
        guard virDomainMigrateToURI3(handle, destURI, params.pointer, UInt32(params.count), flags) == 0 else {
            throw connection.fail("virDomainMigrateToURI3(\(name) → \(redactURI(destURI)))")
        }
    }

    func startPostCopy() throws(LibvirtError) {
        guard virDomainMigrateStartPostCopy(handle, 0) == 0 else {
            throw connection.fail("virDomainMigrateStartPostCopy(\(name))")
        }
    }
}

extension LibvirtError {
    var isOperationAborted: Bool { code == Int32(VIR_ERR_OPERATION_ABORTED.rawValue) }
    var isOperationInvalid: Bool { code == Int32(VIR_ERR_OPERATION_INVALID.rawValue) }
}
