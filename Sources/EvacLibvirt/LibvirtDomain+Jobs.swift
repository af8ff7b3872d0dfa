internal import CLibvirt
import EvacCore
import Foundation

/// Migration and job calls on one domain. All blocking; errors are read on the calling thread.
extension LibvirtDomain {
    /// The XML to base a destination XML on: migratable (no runtime-only parts) and secure
    /// (keeps secrets such as VNC passwords, so the target gets them). Never log it.
    /// `inactive`: the persistent definition rather than the running one.
    func migratableXML(inactive: Bool = false) throws(LibvirtError) -> String {
        var flags = VIR_DOMAIN_XML_MIGRATABLE.rawValue | VIR_DOMAIN_XML_SECURE.rawValue
        if inactive { flags |= VIR_DOMAIN_XML_INACTIVE.rawValue }
        return try Libvirt.string("virDomainGetXMLDesc(\(name), migratable)", uri: uri) {
            virDomainGetXMLDesc(handle, flags)
        }
    }

    /// Starts a defined domain (lab set-up).
    public func start() throws(LibvirtError) {
        try Libvirt.status("virDomainCreate(\(name))", uri: uri) { virDomainCreate(handle) }
    }

    /// Asks the guest OS to power off (ACPI); returns once asked.
    func shutdown() throws(LibvirtError) {
        try Libvirt.status("virDomainShutdown(\(name))", uri: uri) { virDomainShutdown(handle) }
    }

    /// Powers the guest off at once; the definition stays.
    func destroy() throws(LibvirtError) {
        try Libvirt.status("virDomainDestroy(\(name))", uri: uri) { virDomainDestroy(handle) }
    }

    /// Removes the (shut-off) guest's persistent definition; disks are not touched.
    func undefine() throws(LibvirtError) {
        try Libvirt.status("virDomainUndefineFlags(\(name))", uri: uri) { virDomainUndefineFlags(handle, 0) }
    }

    /// Live XML (flags 0): a running guest's CPU as started.
    func liveXML() throws(LibvirtError) -> String { try xmlDesc(inactive: false) }

    /// Statistics of the job running now: (virDomainJobType, stats). Type 0 = no job.
    func jobStats() throws(LibvirtError) -> (type: Int32, stats: [String: String]) {
        var type: Int32 = 0
        var params: virTypedParameterPtr?
        var n: Int32 = 0
        try Libvirt.status("virDomainGetJobStats(\(name))", uri: uri) {
            virDomainGetJobStats(handle, &type, &params, &n, 0)
        }
        defer { virTypedParamsFree(params, n) }
        return (type, typedParamsDictionary(params, n))
    }

    /// The job running now, nil for none: what it does and how long it has run.
    func activeJob() throws(LibvirtError) -> GuestJob? {
        let (type, stats) = try jobStats()
        guard UInt32(bitPattern: type) != VIR_DOMAIN_JOB_NONE.rawValue else { return nil }
        let operation: GuestJob.Operation
        switch stats[VIR_DOMAIN_JOB_OPERATION].flatMap({ UInt32($0) }) {
        case VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT.rawValue: operation = .outgoingMigration
        case VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN.rawValue: operation = .incomingMigration
        case nil, VIR_DOMAIN_JOB_OPERATION_UNKNOWN.rawValue: operation = .unknown
        default: operation = .other
        }
        return GuestJob(operation: operation, elapsedMs: stats[VIR_DOMAIN_JOB_TIME_ELAPSED].flatMap { UInt64($0) })
    }

    func abortJob() throws(LibvirtError) {
        try Libvirt.status("virDomainAbortJob(\(name))", uri: uri) { virDomainAbortJob(handle) }
    }

    func setMaxDowntime(milliseconds: UInt64) throws(LibvirtError) {
        try Libvirt.status("virDomainMigrateSetMaxDowntime(\(name))", uri: uri) {
            virDomainMigrateSetMaxDowntime(handle, milliseconds, 0)
        }
    }

    /// Peer-to-peer migration: the source daemon connects to `destURI` itself. Blocks for the
    /// whole migration.
    func migrateToURI3(_ destURI: String, params: TypedParams, flags: UInt32) throws(LibvirtError) {
        try Libvirt.status("virDomainMigrateToURI3(\(name) → \(redactURI(destURI)))", uri: uri) {
            virDomainMigrateToURI3(handle, destURI, params.pointer, UInt32(params.count), flags)
        }
    }

    func startPostCopy() throws(LibvirtError) {
        try Libvirt.status("virDomainMigrateStartPostCopy(\(name))", uri: uri) {
            virDomainMigrateStartPostCopy(handle, 0)
        }
    }
}
