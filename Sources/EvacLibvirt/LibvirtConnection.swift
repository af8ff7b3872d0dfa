// @preconcurrency: `virConnectAuthPtrDefault` is a C global that libvirt sets once at load;
// Swift 6 would otherwise reject reading it as shared mutable state.
@preconcurrency internal import CLibvirt
import EvacCore
import Foundation

/// One open libvirt connection; the only owner of its `virConnectPtr` (closed in deinit).
/// libvirt connections may be used from several threads, hence `@unchecked Sendable`.
/// Every method blocks: call them from a dedicated thread (see `LibvirtRuntime.waiting`).
public final class LibvirtConnection: @unchecked Sendable {
    /// The URI as given (credentials redacted); used in every error.
    public let uri: String
    let handle: OpaquePointer

    /// Opens `uri` with libvirt's default authentication callback (it may prompt on the
    /// terminal; nothing it is given is logged), then turns on libvirt's keepalive, so that a
    /// call on a host that stops answering ends instead of waiting forever. Blocks: libvirt has
    /// no timeout for the open itself, so callers wait for it with a deadline.
    public init(uri: String, settings: ConnectionSettings = ConnectionSettings()) throws(LibvirtError) {
        LibvirtRuntime.shared.start()
        let redacted = redactURI(uri)
        self.uri = redacted
        let started = LibvirtLog.start()
        do {
            handle = try Libvirt.object("virConnectOpenAuth", uri: redacted) {
                virConnectOpenAuth(uri, virConnectAuthPtrDefault, 0)
            }
        } catch {
            LibvirtLog.call("virConnectOpenAuth", uri: redacted, since: started, error: error)
            throw error
        }
        LibvirtLog.call("virConnectOpenAuth", uri: redacted, since: started)
        Self.opened(redacted, +1)
        let (interval, count) = settings.keepalive
        do {
            try Libvirt.status("virConnectSetKeepAlive", uri: redacted) {
                virConnectSetKeepAlive(handle, interval, count)
            }
        } catch  where error.isNoSupport {
            // Drivers that run in-process (test:///) have no keepalive and need none.
        }
    }

    /// Closing sends the daemon a last call and waits for its answer, which a frozen host
    /// never gives (until keepalive ends it): never on the thread that lets go, which may be
    /// one of Swift's cooperative pool.
    deinit {
        let (closing, redacted) = (UnsafeHandle(pointer: handle), uri) // owned by the closer from here on
        let closer = Thread {
            virConnectClose(closing.pointer)
            Self.opened(redacted, -1)
        }
        closer.name = "evac.libvirt.close"
        closer.start()
    }

    /// Connections open right now in this process, per URI (tests check that none is left
    /// behind, e.g. by an open that completed after its waiter gave up).
    static func openCount(uri: String) -> Int { openByURI.withLock { $0[redactURI(uri)] ?? 0 } }
    private static let openByURI = LockedMap()
    private static func opened(_ uri: String, _ delta: Int) { openByURI.withLock { $0[uri, default: 0] += delta } }

    /// Opens on a dedicated thread so the caller's task never blocks the cooperative pool,
    /// giving up after the connect timeout (a late connection is closed as it arrives).
    public static func open(
        uri: String, settings: ConnectionSettings = ConnectionSettings()
    ) async throws(LibvirtError) -> LibvirtConnection {
        let waited = await LibvirtRuntime.waiting(
            "evac.libvirt.open", connectLimit: .milliseconds(settings.connectTimeoutMs),
            callLimit: .milliseconds(settings.callTimeoutMs)
        ) {
            Result { () throws(LibvirtError) in try LibvirtConnection(uri: uri, settings: settings) }
        }
        return try waited.result(uri: redactURI(uri)).get()
    }

    public func capabilitiesXML() throws(LibvirtError) -> String {
        try Libvirt.string("virConnectGetCapabilities", uri: uri) { virConnectGetCapabilities(handle) }
    }

    /// The storage pool capabilities (the volume formats each pool type accepts); nil where the
    /// driver has none (the test driver, a daemon without the storage driver).
    public func storagePoolCapabilitiesXML() throws(LibvirtError) -> String? {
        do {
            return try Libvirt.string("virConnectGetStoragePoolCapabilities", uri: uri) {
                virConnectGetStoragePoolCapabilities(handle, 0)
            }
        } catch  where error.isNoSupport {
            return nil
        }
    }

    /// Every feature of a host CPU (its model's own plus the extra ones capabilities list),
    /// from libvirt's baseline with EXPAND_FEATURES; nil where the driver cannot (test driver).
    /// Capabilities alone list only the features beyond the model, so a guest needing x2apic
    /// would look incompatible with a Broadwell host that has it through its model.
    public func expandedCPUFeatures(hostCPUXML xml: String) -> [String]? {
        let text = Libvirt.optional("virConnectBaselineCPU", uri: uri) { () throws(LibvirtError) in
            try Libvirt.string("virConnectBaselineCPU", uri: uri) {
                xml.withCString { cxml in
                    var list: [UnsafePointer<CChar>?] = [cxml]
                    return list.withUnsafeMutableBufferPointer { buf in
                        virConnectBaselineCPU(
                            handle, buf.baseAddress, 1, UInt32(VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES.rawValue))
                    }
                }
            }
        }
        return text.flatMap { HostXML.requiredFeatures(cpuXML: $0) }
    }

    public struct NodeInfo: Sendable, Hashable {
        public var model: String
        public var memoryKiB: UInt64
        public var cpus: Int
    }

    public func nodeInfo() throws(LibvirtError) -> NodeInfo {
        var info = virNodeInfo()
        try Libvirt.status("virNodeGetInfo", uri: uri) { virNodeGetInfo(handle, &info) }
        // `model` is a fixed char[32] imported as a tuple; read it as a C string.
        let model = withUnsafeBytes(of: info.model) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return NodeInfo(model: model, memoryKiB: UInt64(info.memory), cpus: Int(info.cpus))
    }

    /// Free memory in bytes. 0 means unknown: libvirt returns 0 both on error and for hosts
    /// without NUMA data (the test driver), so it is informational only.
    public func freeMemoryBytes() -> UInt64 {
        // 0 is also libvirt's error value: read (and so clear) the error through the one path.
        Libvirt.optional("virNodeGetFreeMemory", uri: uri) { () throws(LibvirtError) in
            try Libvirt.object("virNodeGetFreeMemory", uri: uri) { () -> UInt64? in
                let bytes = virNodeGetFreeMemory(handle)
                return bytes == 0 ? nil : UInt64(bytes)
            }
        } ?? 0
    }

    /// The daemon's libvirt version and its hypervisor's (QEMU's, for the qemu driver) as
    /// "9.0.0"; nil where the driver cannot say.
    public func versions() -> (libvirt: String?, hypervisor: String?) {
        func text(_ v: UInt) -> String { "\(v / 1_000_000).\(v / 1000 % 1000).\(v % 1000)" }
        let lib = Libvirt.optional("virConnectGetLibVersion", uri: uri) { () throws(LibvirtError) -> UInt in
            var v: UInt = 0
            try Libvirt.status("virConnectGetLibVersion", uri: uri) { virConnectGetLibVersion(handle, &v) }
            return v
        }
        let hyp = Libvirt.optional("virConnectGetVersion", uri: uri) { () throws(LibvirtError) -> UInt in
            var v: UInt = 0
            try Libvirt.status("virConnectGetVersion", uri: uri) { virConnectGetVersion(handle, &v) }
            return v
        }
        return (lib.map(text), hyp.flatMap { $0 == 0 ? nil : text($0) })
    }

    public func hostname() throws(LibvirtError) -> String {
        try Libvirt.string("virConnectGetHostname", uri: uri) { virConnectGetHostname(handle) }
    }

    /// Host network interfaces (active and inactive) as (name, XML).
    public func interfaces() throws(LibvirtError) -> [(name: String, xml: String)] {
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let n = try Libvirt.status("virConnectListAllInterfaces", uri: uri) {
            virConnectListAllInterfaces(handle, &list, 0)
        }
        defer { freeList(list, Int(n), virInterfaceFree) }
        var out: [(name: String, xml: String)] = []
        for i in 0..<Int(n) {
            guard let iface = list?[i] else { continue }
            let name = String(cString: virInterfaceGetName(iface))
            out.append(
                (
                    name,
                    try Libvirt.string("virInterfaceGetXMLDesc(\(name))", uri: uri) { virInterfaceGetXMLDesc(iface, 0) }
                ))
        }
        return out
    }

    /// libvirt virtual networks (active and inactive) as (name, active, XML).
    public func networks() throws(LibvirtError) -> [(name: String, active: Bool, xml: String)] {
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let n = try Libvirt.status("virConnectListAllNetworks", uri: uri) {
            virConnectListAllNetworks(handle, &list, 0)
        }
        defer { freeList(list, Int(n), virNetworkFree) }
        var out: [(name: String, active: Bool, xml: String)] = []
        for i in 0..<Int(n) {
            guard let net = list?[i] else { continue }
            let name = String(cString: virNetworkGetName(net))
            let active = try Libvirt.status("virNetworkIsActive(\(name))", uri: uri) { virNetworkIsActive(net) }
            out.append(
                (
                    name, active == 1,
                    try Libvirt.string("virNetworkGetXMLDesc(\(name))", uri: uri) { virNetworkGetXMLDesc(net, 0) }
                ))
        }
        return out
    }

    /// Names of the network filters (nwfilter) defined on the host.
    public func nwfilterNames() throws(LibvirtError) -> [String] {
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let n = try Libvirt.status("virConnectListAllNWFilters", uri: uri) {
            virConnectListAllNWFilters(handle, &list, 0)
        }
        defer { freeList(list, Int(n), virNWFilterFree) }
        return (0..<Int(n)).compactMap { i in list?[i].flatMap { virNWFilterGetName($0) }.map { String(cString: $0) } }
    }

    /// Storage pools (active and inactive) as (name, active, XML).
    public func storagePools() throws(LibvirtError) -> [(name: String, active: Bool, xml: String)] {
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let n = try Libvirt.status("virConnectListAllStoragePools", uri: uri) {
            virConnectListAllStoragePools(handle, &list, 0)
        }
        defer { freeList(list, Int(n), virStoragePoolFree) }
        var out: [(name: String, active: Bool, xml: String)] = []
        for i in 0..<Int(n) {
            guard let pool = list?[i] else { continue }
            let name = String(cString: virStoragePoolGetName(pool))
            let active = try Libvirt.status("virStoragePoolIsActive(\(name))", uri: uri) {
                virStoragePoolIsActive(pool)
            }
            let xml = try Libvirt.string("virStoragePoolGetXMLDesc(\(name))", uri: uri) {
                virStoragePoolGetXMLDesc(pool, 0)
            }
            out.append((name, active == 1, xml))
        }
        return out
    }

    /// All domains, running and defined. Ownership of each handle moves into a `LibvirtDomain`.
    public func domains() throws(LibvirtError) -> [LibvirtDomain] {
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let n = try Libvirt.status("virConnectListAllDomains", uri: uri) { virConnectListAllDomains(handle, &list, 0) }
        defer { free(list) } // the array only; the handles now belong to the LibvirtDomain objects
        return (0..<Int(n)).compactMap { i in list?[i].map { LibvirtDomain(handle: $0, connection: self) } }
    }
}

/// One `virDomainPtr`, freed in deinit. Keeps its connection alive for error reporting.
public final class LibvirtDomain: @unchecked Sendable {
    let handle: OpaquePointer
    public let connection: LibvirtConnection
    /// Read once, when the handle is new: error texts use this value, never a fresh
    /// `virDomainGetName`, which would reset the error they describe.
    public let name: String
    var uri: String { connection.uri }

    init(handle: OpaquePointer, connection: LibvirtConnection) {
        self.handle = handle
        self.connection = connection
        name = String(cString: virDomainGetName(handle))
    }
    deinit { virDomainFree(handle) }

    public func uuidString() throws(LibvirtError) -> String {
        var buf = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
        try Libvirt.status("virDomainGetUUIDString(\(name))", uri: uri) { virDomainGetUUIDString(handle, &buf) }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The raw `virDomainState` value (VIR_DOMAIN_RUNNING = 1, …).
    public func state() throws(LibvirtError) -> Int32 {
        var state: Int32 = 0
        var reason: Int32 = 0
        try Libvirt.status("virDomainGetState(\(name))", uri: uri) { virDomainGetState(handle, &state, &reason, 0) }
        return state
    }

    public func isPersistent() throws(LibvirtError) -> Bool {
        try Libvirt.status("virDomainIsPersistent(\(name))", uri: uri) { virDomainIsPersistent(handle) } == 1
    }

    /// The domain XML; `inactive` asks for the persistent definition instead of the live one.
    public func xmlDesc(inactive: Bool = false) throws(LibvirtError) -> String {
        let flags = inactive ? VIR_DOMAIN_XML_INACTIVE.rawValue : 0
        return try Libvirt.string("virDomainGetXMLDesc(\(name))", uri: uri) { virDomainGetXMLDesc(handle, flags) }
    }
}

/// A C handle handed to one other thread, which becomes its only user.
struct UnsafeHandle: @unchecked Sendable { let pointer: OpaquePointer }

/// Frees every handle of a virConnectListAll* array, then the array itself.
private func freeList(_ list: UnsafeMutablePointer<OpaquePointer?>?, _ n: Int, _ freeOne: (OpaquePointer?) -> Int32) {
    guard let list else { return }
    for i in 0..<n { _ = freeOne(list[i]) }
    free(list)
}
