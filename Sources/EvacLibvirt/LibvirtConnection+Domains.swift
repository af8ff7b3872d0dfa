internal import CLibvirt
import Foundation

/// Look-ups and host-level queries the hypervisor adapter needs. All blocking.
extension LibvirtConnection {
    /// Whether the connection still works: false once the daemon closed it (the event loop
    /// notices EOF and keepalive timeouts). Local check, does not block on the network.
    public var isAlive: Bool {
        Libvirt.optional("virConnectIsAlive", uri: uri) { () throws(LibvirtError) in
            try Libvirt.status("virConnectIsAlive", uri: uri) { virConnectIsAlive(handle) }
        } == 1
    }

    /// The domain with this UUID, or nil when the host has no such domain.
    public func domain(uuid: String) throws(LibvirtError) -> LibvirtDomain? {
        do {
            let dom = try Libvirt.object("virDomainLookupByUUIDString(\(uuid))", uri: uri) {
                virDomainLookupByUUIDString(handle, uuid)
            }
            return LibvirtDomain(handle: dom, connection: self)
        } catch  where error.isNoDomain {
            return nil
        }
    }

    /// The domain with this UUID; a typed "no domain" error naming `name` when it is not here.
    func requireDomain(uuid: String, name: String? = nil) throws(LibvirtError) -> LibvirtDomain {
        guard let dom = try domain(uuid: uuid) else { throw LibvirtError.noDomain(uuid: uuid, name: name, uri: uri) }
        return dom
    }

    /// Defines a persistent domain from XML. For the lab tests' set-up only (`@testable`):
    /// evac itself never defines guests, so this is not library API.
    func define(xml: String) throws(LibvirtError) -> LibvirtDomain {
        LibvirtDomain(
            handle: try Libvirt.object("virDomainDefineXML", uri: uri) { virDomainDefineXML(handle, xml) },
            connection: self)
    }

    /// Domain capabilities for one arch and virt type (holds the usable host-model CPU).
    func domainCapabilitiesXML(arch: String?, virtType: String?) throws(LibvirtError) -> String {
        try Libvirt.string("virConnectGetDomainCapabilities", uri: uri) {
            virConnectGetDomainCapabilities(handle, nil, arch, nil, virtType, 0)
        }
    }

    /// libvirt's `virCPUCompareResult` of `cpuXML` against what this host's hypervisor can run.
    func compareHypervisorCPU(arch: String?, virtType: String?, cpuXML: String) throws(LibvirtError) -> Int32 {
        // VIR_CPU_COMPARE_ERROR is -1: a failure like any negative status.
        try Libvirt.status("virConnectCompareHypervisorCPU", uri: uri) {
            virConnectCompareHypervisorCPU(handle, nil, arch, nil, virtType, cpuXML, 0)
        }
    }
}
