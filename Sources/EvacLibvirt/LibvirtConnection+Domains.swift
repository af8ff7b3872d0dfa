import CLibvirt
import Foundation

/// Look-ups and host-level queries the hypervisor adapter needs. All blocking.
extension LibvirtConnection {
    /// Whether the connection still works: false once the daemon closed it (the event loop
    /// notices EOF and keepalive timeouts). Local check, does not block on the network.
    public var isAlive: Bool {
        let r = virConnectIsAlive(handle)
        if r < 0 { virResetLastError() }
        return r == 1
    }

    /// The domain with this UUID, or nil when the host has no such domain.
    public func domain(uuid: String) throws(LibvirtError) -> LibvirtDomain? {
        guard let dom = virDomainLookupByUUIDString(handle, uuid) else {
            let error = fail("virDomainLookupByUUIDString(\(uuid))")
            if error.isNoDomain { return nil }
            throw error
        }
        return LibvirtDomain(handle: dom, connection: self)
    }

    /// Defines a persistent domain from XML (lab set-up; evac itself never defines guests).
    public func define(xml: String) throws(LibvirtError) -> LibvirtDomain {
        guard let dom = virDomainDefineXML(handle, xml) else { throw fail("virDomainDefineXML") }
        return LibvirtDomain(handle: dom, connection: self)
    }

    /// Domain capabilities for one arch and virt type (holds the usable host-model CPU).
    func domainCapabilitiesXML(arch: String?, virtType: String?) throws(LibvirtError) -> String {
        guard let xml = takeString(virConnectGetDomainCapabilities(handle, nil, arch, nil, virtType, 0)) else {
            throw fail("virConnectGetDomainCapabilities")
        }
        return xml
    }

    /// libvirt's `virCPUCompareResult` of `cpuXML` against what this host's hypervisor can run.
    func compareHypervisorCPU(arch: String?, virtType: String?, cpuXML: String) throws(LibvirtError) -> Int32 {
        let r = virConnectCompareHypervisorCPU(handle, nil, arch, nil, virtType, cpuXML, 0)
        if r == VIR_CPU_COMPARE_ERROR.rawValue { throw fail("virConnectCompareHypervisorCPU") }
        return r
    }
}
