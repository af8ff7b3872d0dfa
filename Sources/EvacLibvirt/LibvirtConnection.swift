// @preconcurrency: `virConnectAuthPtrDefault` is a C global that libvirt sets once at load;
// Swift 6 would otherwise reject reading it as shared mutable state.
@preconcurrency import CLibvirt
import Foundation

/// One open libvirt connection; the only owner of its `virConnectPtr` (closed in deinit).
/// libvirt connections may be used from several threads, hence `@unchecked Sendable`.
/// Every method blocks: call them from a dedicated thread (see `LibvirtRuntime.blocking`).
public final class LibvirtConnection: @unchecked Sendable {
    /// The URI as given (credentials redacted); used in every error.
    public let uri: String
    let handle: OpaquePointer

    /// Opens `uri` with libvirt's default authentication callback (it may prompt on the
    /// terminal; nothing it is given is logged). Blocks.
    public init(uri: String) throws(LibvirtError) {
        LibvirtRuntime.shared.start()
        self.uri = redactURI(uri)
        let started = LibvirtLog.start()
        guard let conn = virConnectOpenAuth(uri, virConnectAuthPtrDefault, 0) else {
            let error = LibvirtError.last("virConnectOpenAuth", uri: uri)
            LibvirtLog.call("virConnectOpenAuth", uri: self.uri, since: started, error: error)
            throw error
        }
        LibvirtLog.call("virConnectOpenAuth", uri: self.uri, since: started)
        handle = conn
    }

    deinit { virConnectClose(handle) }

    /// Opens on a dedicated thread so the caller's task never blocks the cooperative pool.
    public static func open(uri: String) async throws(LibvirtError) -> LibvirtConnection {
        let result = await LibvirtRuntime.blocking("evac.libvirt.open") {
            Result { () throws(LibvirtError) in try LibvirtConnection(uri: uri) }
        }
        return try result.get()
    }

    func fail(_ operation: String) -> LibvirtError { LibvirtError.last(operation, uri: uri) }

    public func capabilitiesXML() throws(LibvirtError) -> String {
        guard let xml = takeString(virConnectGetCapabilities(handle)) else { throw fail("virConnectGetCapabilities") }
        return xml
    }

    /// Every feature of a host CPU (its model's own plus the extra ones capabilities list),
    /// from libvirt's baseline with EXPAND_FEATURES; nil where the driver cannot (test driver).
    /// Capabilities alone list only the features beyond the model, so a guest needing x2apic
    /// would look incompatible with a Broadwell host that has it through its model.
    public func expandedCPUFeatures(hostCPUXML xml: String) -> [String]? {
        let result: UnsafeMutablePointer<CChar>? = xml.withCString { cxml in
            var list: [UnsafePointer<CChar>?] = [cxml]
            return list.withUnsafeMutableBufferPointer { buf in
                virConnectBaselineCPU(
                    handle, buf.baseAddress, 1, UInt32(VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES.rawValue))
            }
        }
        guard let text = takeString(result) else {
            virResetLastError()
            return nil
        }
        return HostXML.requiredFeatures(cpuXML: text)
    }

    public struct NodeInfo: Sendable, Hashable {
        public var model: String
        public var memoryKiB: UInt64
        public var cpus: Int
    }

    public func nodeInfo() throws(LibvirtError) -> NodeInfo {
        var info = virNodeInfo()
        guard virNodeGetInfo(handle, &info) == 0 else { throw fail("virNodeGetInfo") }
        // `model` is a fixed char[32] imported as a tuple; read it as a C string.
        let model = withUnsafeBytes(of: info.model) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return NodeInfo(model: model, memoryKiB: UInt64(info.memory), cpus: Int(info.cpus))
    }

    /// Free memory in bytes. 0 means unknown: libvirt returns 0 both on error and for hosts
    /// without NUMA data (the test driver), so it is informational only.
    public func freeMemoryBytes() -> UInt64 {
        let bytes = virNodeGetFreeMemory(handle)
        if bytes == 0 { virResetLastError() }
        return UInt64(bytes)
    }

    public func hostname() throws(LibvirtError) -> String {
        guard let name = takeString(virConnectGetHostname(handle)) else { throw fail("virConnectGetHostname") }
        return name
    }

    /// Host network interfaces (active and inactive) as (name, XML).
    public func interfaces() throws(LibvirtError) -> [(name: String, xml: String)] {
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let n = virConnectListAllInterfaces(handle, &list, 0)
        guard n >= 0 else { throw fail("virConnectListAllInterfaces") }
        defer { freeList(list, Int(n), virInterfaceFree) }
        var out: [(name: String, xml: String)] = []
        for i in 0..<Int(n) {
            guard let iface = list?[i] else { continue }
            let name = String(cString: virInterfaceGetName(iface))
            guard let xml = takeString(virInterfaceGetXMLDesc(iface, 0)) else {
                throw fail("virInterfaceGetXMLDesc(\(name))")
            }
            out.append((name, xml))
        }
        return out
    }

    /// libvirt virtual networks (active and inactive) as (name, active, XML).
    public func networks() throws(LibvirtError) -> [(name: String, active: Bool, xml: String)] {
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let n = virConnectListAllNetworks(handle, &list, 0)
        guard n >= 0 else { throw fail("virConnectListAllNetworks") }
        defer { freeList(list, Int(n), virNetworkFree) }
        var out: [(name: String, active: Bool, xml: String)] = []
        for i in 0..<Int(n) {
            guard let net = list?[i] else { continue }
            let name = String(cString: virNetworkGetName(net))
            let active = virNetworkIsActive(net)
            guard active >= 0 else { throw fail("virNetworkIsActive(\(name))") }
            guard let xml = takeString(virNetworkGetXMLDesc(net, 0)) else {
                throw fail("virNetworkGetXMLDesc(\(name))")
            }
            out.append((name, active == 1, xml))
        }
        return out
    }

    /// Storage pools (active and inactive) as (name, XML).
    public func storagePools() throws(LibvirtError) -> [(name: String, xml: String)] {
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let n = virConnectListAllStoragePools(handle, &list, 0)
        guard n >= 0 else { throw fail("virConnectListAllStoragePools") }
        defer { freeList(list, Int(n), virStoragePoolFree) }
        var out: [(name: String, xml: String)] = []
        for i in 0..<Int(n) {
            guard let pool = list?[i] else { continue }
            let name = String(cString: virStoragePoolGetName(pool))
            guard let xml = takeString(virStoragePoolGetXMLDesc(pool, 0)) else {
                throw fail("virStoragePoolGetXMLDesc(\(name))")
            }
            out.append((name, xml))
        }
        return out
    }

    /// All domains, running and defined. Ownership of each handle moves into a `LibvirtDomain`.
    public func domains() throws(LibvirtError) -> [LibvirtDomain] {
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let n = virConnectListAllDomains(handle, &list, 0)
        guard n >= 0 else { throw fail("virConnectListAllDomains") }
        defer { free(list) } // the array only; the handles now belong to the LibvirtDomain objects
        return (0..<Int(n)).compactMap { i in list?[i].map { LibvirtDomain(handle: $0, connection: self) } }
    }
}

/// One `virDomainPtr`, freed in deinit. Keeps its connection alive for error reporting.
public final class LibvirtDomain: @unchecked Sendable {
    let handle: OpaquePointer
    public let connection: LibvirtConnection

    init(handle: OpaquePointer, connection: LibvirtConnection) {
        self.handle = handle
        self.connection = connection
    }
    deinit { virDomainFree(handle) }

    public var name: String { String(cString: virDomainGetName(handle)) }

    public func uuidString() throws(LibvirtError) -> String {
        var buf = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
        guard virDomainGetUUIDString(handle, &buf) == 0 else {
            throw connection.fail("virDomainGetUUIDString(\(name))")
        }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The raw `virDomainState` value (VIR_DOMAIN_RUNNING = 1, …).
    public func state() throws(LibvirtError) -> Int32 {
        var state: Int32 = 0
        var reason: Int32 = 0
        guard virDomainGetState(handle, &state, &reason, 0) == 0 else {
            throw connection.fail("virDomainGetState(\(name))")
        }
        return state
    }

    public func isPersistent() throws(LibvirtError) -> Bool {
        let r = virDomainIsPersistent(handle)
        guard r >= 0 else { throw connection.fail("virDomainIsPersistent(\(name))") }
        return r == 1
    }

    /// The domain XML; `inactive` asks for the persistent definition instead of the live one.
    public func xmlDesc(inactive: Bool = false) throws(LibvirtError) -> String {
        let flags = inactive ? VIR_DOMAIN_XML_INACTIVE.rawValue : 0
        guard let xml = takeString(virDomainGetXMLDesc(handle, flags)) else {
            throw connection.fail("virDomainGetXMLDesc(\(name))")
        }
        return xml
    }
}

/// Copies a malloc'd C string that libvirt hands over, and frees it.
func takeString(_ p: UnsafeMutablePointer<CChar>?) -> String? {
    guard let p else { return nil }
    defer { free(p) }
    return String(cString: p)
}

/// Frees every handle of a virConnectListAll* array, then the array itself.
private func freeList(_ list: UnsafeMutablePointer<OpaquePointer?>?, _ n: Int, _ freeOne: (OpaquePointer?) -> Int32) {
    guard let list else { return }
    for i in 0..<n { _ = freeOne(list[i]) }
    free(list)
}
