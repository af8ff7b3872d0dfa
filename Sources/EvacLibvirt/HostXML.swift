import EvacCore

/// Parsers for the host-level XML documents: capabilities, interfaces, networks, storage pools.
enum HostXML {
    struct Capabilities: Equatable {
        var hostUUID: String?
        var arch: String
        var vendor: String
        var model: String
        var features: [String]
        /// Machine types the host's emulators offer for its own arch (names and the versioned
        /// names their aliases stand for), sorted; empty when the document lists none.
        var machineTypes: [String] = []
        /// The domain types offered for the host's arch (kvm, qemu), sorted, each with its
        /// machine types; empty when the document lists none.
        var virtTypes: [VirtType] = []
    }

    struct VirtType: Equatable {
        var type: String
        var machineTypes: [String]
    }

    /// `<capabilities><host><uuid/><cpu><arch/><model/><vendor/><feature name=…/>…`.
    /// Real drivers list CPU flags as `<feature name='…'/>`; the test driver instead lists
    /// `<features><pae/><nonpae/></features>`: both forms are read.
    static func capabilities(_ xml: String) throws -> Capabilities {
        let root = try XMLTree.parse(xml)
        let cpu = root.first("host/cpu")
        let named = cpu?.children("feature").compactMap { $0.attr("name") } ?? []
        let flags = cpu?.first("features")?.elements.map(\.name) ?? []
        return Capabilities(
            hostUUID: root.text("host/uuid"),
            arch: cpu?.text("arch") ?? "",
            vendor: cpu?.text("vendor") ?? "",
            model: cpu?.text("model") ?? "",
            features: named + flags,
            machineTypes: machineTypes(root, arch: cpu?.text("arch") ?? ""),
            virtTypes: virtTypes(root, arch: cpu?.text("arch") ?? ""))
    }

    /// `<guest><arch name=ARCH><machine>…</machine><domain type='kvm'><machine>…</machine></domain>`:
    /// a type's machines are its arch's plus its own (older libvirt lists kvm's under `<domain>`).
    static func virtTypes(_ root: XMLTree, arch: String) -> [VirtType] {
        var out: [String: Set<String>] = [:]
        for guest in root.children("guest") {
            guard let a = guest.first("arch"), a.attr("name") == arch else { continue }
            let common = names(a.children("machine"))
            for d in a.children("domain") {
                guard let type = d.attr("type"), !type.isEmpty else { continue }
                out[type, default: []].formUnion(common.union(names(d.children("machine"))))
            }
        }
        return out.keys.sorted().map { VirtType(type: $0, machineTypes: out[$0, default: []].sorted()) }
    }

    private static func names(_ machines: [XMLTree]) -> Set<String> {
        var out = Set<String>()
        for m in machines {
            if let name = m.text, !name.isEmpty { out.insert(name) }
            if let canonical = m.attr("canonical") { out.insert(canonical) }
        }
        return out
    }

    /// `<guest><arch name=ARCH><machine canonical=…>NAME</machine>…` (also under `<domain>`).
    static func machineTypes(_ root: XMLTree, arch: String) -> [String] {
        var out = Set<String>()
        for guest in root.children("guest") {
            guard let a = guest.first("arch"), a.attr("name") == arch else { continue }
            for m in a.children("machine") + a.children("domain").flatMap({ $0.children("machine") }) {
                if let name = m.text, !name.isEmpty { out.insert(name) }
                if let canonical = m.attr("canonical") { out.insert(canonical) }
            }
        }
        return out.sorted()
    }

    /// The host's `<cpu>…</cpu>` element of a capabilities document (the first one), as text.
    static func hostCPUElement(_ capabilitiesXML: String) -> String? {
        guard let start = capabilitiesXML.range(of: "<cpu>"),
            let end = capabilitiesXML.range(of: "</cpu>", range: start.upperBound..<capabilitiesXML.endIndex)
        else { return nil }
        return String(capabilitiesXML[start.lowerBound..<end.upperBound])
    }

    /// Features of a baseline `<cpu>` that are present (policy require/force, or no policy).
    static func requiredFeatures(cpuXML xml: String) -> [String]? {
        guard let root = try? XMLTree.parse(xml) else { return nil }
        return root.children("feature").filter {
            ($0.attr("policy") ?? "require") == "require" || $0.attr("policy") == "force"
        }
        .compactMap { $0.attr("name") }
    }

    /// The bridge name if this `<interface>` is a bridge, else nil.
    static func bridgeName(interfaceXML xml: String) throws -> String? {
        let root = try XMLTree.parse(xml)
        return root.attr("type") == "bridge" ? root.attr("name") : nil
    }

    /// `<network><bridge name='virbr0'/>`: networks without a bridge (e.g. macvtap or hostdev
    /// forward modes) have none.
    static func networkBridge(_ xml: String) throws -> String? {
        try XMLTree.parse(xml).first("bridge")?.attr("name")
    }

    /// Pool types whose storage other hosts can reach too, so a disk in them needs no copy.
    /// Network filesystems and block/object stores: netfs (NFS/CIFS/GlusterFS mounts), gluster,
    /// rbd (Ceph), iscsi and iscsi-direct (SAN LUNs), sheepdog, vstorage (Virtuozzo storage),
    /// mpath (multipath SAN devices). Not shared: dir, fs, logical, disk, zfs, scsi (a local
    /// HBA's view), and anything unknown — when in doubt, the planner must copy or refuse.
    static let sharedPoolTypes: Set<String> = [
        "netfs", "gluster", "rbd", "iscsi", "iscsi-direct", "sheepdog", "vstorage", "mpath",
    ]

    /// `<pool type=…><available unit='bytes'>…</available><target><path>…`; `active` is the
    /// pool's state (not in its XML). An inactive pool's figures are stale: not reported.
    /// Pool type → the volume formats libvirt creates in a pool of that type (storage pool
    /// capabilities' `targetFormatType`), for the supported types; [] for a type without a
    /// format choice (logical, iscsi, …: raw data only).
    static func poolVolumeFormats(_ xml: String) throws -> [String: [String]] {
        let root = try XMLTree.parse(xml)
        var out: [String: [String]] = [:]
        for pool in root.children("pool") where pool.attr("supported") != "no" {
            guard let type = pool.attr("type") else { continue }
            let formats = (pool.first("volOptions")?.children("enum") ?? [])
                .filter { $0.attr("name") == "targetFormatType" }
                .flatMap { $0.children("value").compactMap(\.text) }
            out[type] = formats.filter { $0 != "none" }.sorted()
        }
        return out
    }

    static func storagePool(name: String, xml: String, active: Bool? = nil) throws -> StoragePoolInfo {
        let root = try XMLTree.parse(xml)
        let type = root.attr("type") ?? ""
        // libvirt writes `<available unit='bytes'>`; other units are read as the domain XML's.
        let available = root.first("available").flatMap { e -> UInt64? in
            guard let n = UInt64(e.text ?? ""), let f = DomainXML.unitBytes[(e.attr("unit") ?? "bytes").lowercased()]
            else { return nil }
            let (bytes, overflow) = n.multipliedReportingOverflow(by: f)
            return overflow ? nil : bytes
        }
        return StoragePoolInfo(
            name: name, type: type, targetPath: root.text("target/path"),
            shared: sharedPoolTypes.contains(type), active: active, availableBytes: active == false ? nil : available)
    }
}
