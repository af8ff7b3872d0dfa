internal import CLibvirt
import EvacCore

/// Reads one host's inventory over an open connection. Blocking: run it on a dedicated thread.
public enum HostReader {
    /// Reads everything placement needs from `connection`; `name` is the plan's name for the host.
    /// `dirtyRates`: also sample each running guest's dirty rate (about one second more).
    public static func read(
        name: String, connection c: LibvirtConnection, dirtyRates: Bool = false
    ) throws(LibvirtError) -> HostInventory {
        try read(name: name, connection: c, hostPart: try hostPart(name: name, connection: c), dirtyRates: dirtyRates)
    }

    /// The guests (and free memory) of a host whose host part was read before: the executor's
    /// pre-checks re-read only what changes during a drain (and sample no dirty rates).
    public static func read(
        name: String, connection c: LibvirtConnection, hostPart: HostInventory, dirtyRates: Bool = false
    ) throws(LibvirtError) -> HostInventory {
        var h = hostPart
        h.freeMemoryKiB = c.freeMemoryBytes() / 1024
        var guests: [Guest] = []
        let domains = try c.domains()
        var running: [LibvirtDomain] = []
        for dom in domains {
            do {
                let g = try guest(dom, hostCPUModel: h.cpu.model, pools: h.storagePools, uri: c.uri)
                guests.append(g)
                if g.state == .running { running.append(dom) }
            } catch  where error.isNoDomain {
                continue // undefined or stopped (if transient) between listing and reading: it is gone
            }
        }
        // Running guests only: on the lab the calculation on a paused guest (an incoming
        // migration a killed daemon left behind) got no answer within the call timeout, which
        // made the whole host unreachable.
        if dirtyRates {
            let readings = DirtyRateSample(connection: c, domains: running).readings()
            for i in guests.indices {
                guests[i].dirtyRateBytesPerSec = readings[guests[i].uuid]?.bytesPerSec
                guests[i].residentMemoryKiB = readings[guests[i].uuid]?.residentKiB
            }
        }
        h.guests = guests.sorted { ($0.name, $0.uuid) < ($1.name, $1.uuid) }
        return h
    }

    /// Runs an XML parse, turning its failure into a LibvirtError that names the document and host.
    static func parsed<T>(_ what: String, uri: String, _ body: () throws -> T) throws(LibvirtError) -> T {
        do { return try body() } catch {
            throw LibvirtError.xml("cannot parse \(what): \(error)", uri: uri, operation: "parse \(what)")
        }
    }

    /// Everything but the guests: capabilities, CPU, memory, bridges, networks, storage pools.
    public static func hostPart(name: String, connection c: LibvirtConnection) throws(LibvirtError) -> HostInventory {
        let uri = c.uri
        func parsed<T>(_ what: String, _ body: () throws -> T) throws(LibvirtError) -> T {
            try HostReader.parsed(what, uri: uri, body)
        }

        let capsXML = try c.capabilitiesXML()
        var caps = try parsed("capabilities") { try HostXML.capabilities(capsXML) }
        if let element = HostXML.hostCPUElement(capsXML), let all = c.expandedCPUFeatures(hostCPUXML: element) {
            caps.features = Array(Set(caps.features + all)).sorted()
        }
        let node = try c.nodeInfo()
        // Capabilities name the CPU model on real hosts; the test driver only reports it in
        // virNodeGetInfo, so fall back to that.
        let cpuModel = caps.model.isEmpty ? node.model : caps.model

        var bridges: [String] = []
        for iface in try optional(c.interfaces()) {
            if let bridge = try parsed("interface \(iface.name)", { try HostXML.bridgeName(interfaceXML: iface.xml) }) {
                bridges.append(bridge)
            }
        }
        var networks: [NetworkInfo] = []
        for net in try optional(c.networks()) {
            let bridge = try parsed("network \(net.name)") { try HostXML.networkBridge(net.xml) }
            networks.append(NetworkInfo(name: net.name, bridge: bridge, active: net.active))
            if let bridge { bridges.append(bridge) }
        }
        var pools: [StoragePoolInfo] = []
        for pool in try optional(c.storagePools()) {
            pools.append(
                try parsed("storage pool \(pool.name)") {
                    try HostXML.storagePool(name: pool.name, xml: pool.xml, active: pool.active)
                })
        }

        if !pools.isEmpty, let capsXML = try c.storagePoolCapabilitiesXML() {
            let formats = try parsed("storage pool capabilities") { try HostXML.poolVolumeFormats(capsXML) }
            for i in pools.indices { pools[i].volumeFormats = formats[pools[i].type] }
        }

        var host = HostInventory(
            name: name, uri: uri, hostUUID: caps.hostUUID, hostname: try c.hostname(),
            arch: caps.arch, memoryKiB: node.memoryKiB, freeMemoryKiB: 0,
            cpus: node.cpus, cpu: HostCPU(vendor: caps.vendor, model: cpuModel, features: caps.features),
            bridges: bridges, networks: networks, storagePools: pools, guests: [])
        (host.libvirtVersion, host.hypervisorVersion) = c.versions()
        host.machineTypes = caps.machineTypes.isEmpty ? nil : caps.machineTypes
        // nil where the host cannot list them (the test driver, a session daemon without an
        // nwfilter driver): unknown, not "none"; the nwfilter filter then does not judge it.
        // A dead connection shows up in the guest listing that follows.
        host.nwfilters = try? c.nwfilterNames().sorted()
        host.virtTypes = virtTypeOffers(c, caps)
        // The default type's offer is one of those just read: libvirt's QEMU driver answers a
        // query without a virt type as kvm where KVM works, else as qemu. Asking again cost
        // every host one more domain-capabilities round trip.
        let offers = host.virtTypes ?? []
        if let d = offers.first(where: { $0.type == "kvm" }) ?? offers.first(where: { $0.type == "qemu" }) {
            if let known = d.cpuModels {
                host.cpuModels = known
                host.hostModelCPU = d.hostModelCPU
            }
        } else if let offer = CPUModels.read(c, arch: caps.arch, virtType: nil) {
            host.cpuModels = offer.known
            host.hostModelCPU = offer.hostModel
        }
        return host
    }

    /// Per domain type the host offers for its arch, its machine types and (domain capabilities
    /// read for that type) CPU offer; nil when the capabilities list no domain type (unknown).
    private static func virtTypeOffers(_ c: LibvirtConnection, _ caps: HostXML.Capabilities) -> [VirtTypeOffer]? {
        guard !caps.virtTypes.isEmpty else { return nil }
        return caps.virtTypes.map { t in
            let cpu = CPUModels.read(c, arch: caps.arch, virtType: t.type)
            return VirtTypeOffer(
                type: t.type, machineTypes: t.machineTypes.isEmpty ? nil : t.machineTypes, cpuModels: cpu?.known,
                hostModelCPU: cpu?.hostModel)
        }
    }

    private static func guest(
        _ dom: LibvirtDomain, hostCPUModel: String, pools: [StoragePoolInfo], uri: String
    ) throws(LibvirtError) -> Guest {
        let name = dom.name
        let (state, xml) = try dom.settled { () throws(LibvirtError) in
            let state = guestState(try dom.state())
            // A shut-off guest's live XML is its definition anyway; ask for it explicitly.
            return (state, try dom.xmlDesc(inactive: state == .shutoff))
        }
        let def = try parsed("domain \(name)", uri: uri) {
            try DomainXML.parse(xml, hostCPUModel: hostCPUModel, pools: pools)
        }
        let persistent = try dom.settled { () throws(LibvirtError) in try dom.isPersistent() }
        return Guest(
            uuid: try dom.uuidString(), name: name, state: state, persistent: persistent,
            memoryKiB: def.memoryKiB, currentMemoryKiB: def.currentMemoryKiB, vcpus: def.vcpus,
            cpu: def.cpu, nics: def.nics, disks: try StorageFacts.sized(def.disks, of: dom),
            hostDevices: def.hostDevices, filesystems: def.filesystems, machine: def.machine,
            snapshots: try StorageFacts.snapshots(of: dom), virtType: def.virtType)
    }

    static func guestState(_ raw: Int32) -> Guest.State {
        switch UInt32(bitPattern: raw) {
        case VIR_DOMAIN_RUNNING.rawValue: .running
        case VIR_DOMAIN_BLOCKED.rawValue: .blocked
        case VIR_DOMAIN_PAUSED.rawValue: .paused
        case VIR_DOMAIN_SHUTDOWN.rawValue: .shutdown
        case VIR_DOMAIN_SHUTOFF.rawValue: .shutoff
        case VIR_DOMAIN_CRASHED.rawValue: .crashed
        case VIR_DOMAIN_PMSUSPENDED.rawValue: .pmsuspended
        default: .unknown
        }
    }

    /// A driver without interface/network/storage support (e.g. a session daemon) has none of them.
    private static func optional<T>(_ body: @autoclosure () throws(LibvirtError) -> [T]) throws(LibvirtError) -> [T] {
        do { return try body() } catch  where error.isNoSupport { return [] }
    }
}

/// Reads many hosts concurrently, each on its own thread, under the connection deadlines.
public enum InventoryReader {
    /// Reads every host, at most `concurrency` at a time. Keyed by host name (names should be
    /// unique; with duplicates the last read wins). Never throws: failures are per-host values,
    /// a host that does not answer in time among them (kind `.unreachable`).
    /// Hosts read at once unless told otherwise (`--read-concurrency`), chosen from the
    /// measurement with injected round-trip latency in BENCHMARKS.md ("Live inventory at fleet
    /// scale"): 2,000 hosts at 20 ms took ~192 s 8 at a time and 28 s 64 at a time, with little
    /// more from 256 (17 s). Not higher by default: each qemu+ssh connection is an ssh process on
    /// this machine; far-away fleets gain from raising it.
    public static let defaultConcurrency = 64

    /// `dirtyRates`: sample each running guest's dirty rate (`DirtyRateSample`, about a second
    /// more per host, hosts in parallel as above); off for a quick plan (`--no-dirty-rate`).
    public static func read(
        hosts: [(name: String, uri: String)], settings: ConnectionSettings = ConnectionSettings(),
        concurrency: Int = defaultConcurrency, dirtyRates: Bool = true
    ) async -> [String: Result<HostInventory, HypervisorError>] {
        await withTaskGroup(of: (String, Result<HostInventory, HypervisorError>).self) { group in
            var pending = hosts[...]
            func startNext() {
                guard let (name, uri) = pending.popFirst() else { return }
                group.addTask {
                    (name, await readHost(name: name, uri: uri, settings: settings, dirtyRates: dirtyRates))
                }
            }
            for _ in 0..<max(1, concurrency) { startNext() }
            var results: [String: Result<HostInventory, HypervisorError>] = [:]
            while let (name, result) = await group.next() {
                results[name] = result
                startNext()
            }
            return results
        }
    }

    /// The same, as an `Inventory`: failed hosts become `UnreachableHost` entries.
    public static func inventory(
        hosts: [(name: String, uri: String)], settings: ConnectionSettings = ConnectionSettings(),
        concurrency: Int = defaultConcurrency, dirtyRates: Bool = true
    ) async -> Inventory {
        let results = await read(hosts: hosts, settings: settings, concurrency: concurrency, dirtyRates: dirtyRates)
        var ok: [HostInventory] = []
        var failed: [UnreachableHost] = []
        for (name, uri) in hosts {
            switch results[name] {
            case .success(let host)?: ok.append(host)
            case .failure(let error)?:
                failed.append(UnreachableHost(name: name, uri: redactURI(uri), error: error.message))
            case nil: break
            }
        }
        return Inventory(hosts: ok, unreachable: failed)
    }

    /// Opens, reads and closes one host on a dedicated thread; the connection never leaves it.
    /// Every failure counts as the host being unreachable: nothing can be planned from it.
    public static func readHost(
        name: String, uri: String, settings: ConnectionSettings = ConnectionSettings(), dirtyRates: Bool = true
    ) async
        -> Result<HostInventory, HypervisorError>
    {
        let waited = await LibvirtRuntime.waiting(
            "evac.libvirt.read.\(name)", connectLimit: .milliseconds(settings.connectTimeoutMs),
            callLimit: .milliseconds(settings.callTimeoutMs)
        ) {
            Result { () throws(LibvirtError) in
                try HostReader.read(
                    name: name, connection: LibvirtConnection(uri: uri, settings: settings), dirtyRates: dirtyRates)
            }
        }
        return waited.result(uri: redactURI(uri)).mapError { e in
            HypervisorError(libvirt: e, host: HostEndpoint(name: name, uri: uri), kind: .unreachable)
        }
    }
}
