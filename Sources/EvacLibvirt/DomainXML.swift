import EvacCore

/// What a domain's XML says about its needs on a target host.
struct DomainDefinition: Equatable {
    var memoryKiB: UInt64
    var currentMemoryKiB: UInt64
    var vcpus: Int
    var cpu: GuestCPU
    var nics: [GuestNIC]
    var disks: [GuestDisk]
    var hostDevices: [String]
    var filesystems: [String] = []
    /// `<os><type machine=…>`: the machine type the guest runs (or starts) with.
    var machine: String? = nil
    /// `<domain type=…>`: kvm, qemu, …; the target must offer it.
    var virtType: String? = nil
}

enum DomainXML {
    /// Parses `<domain>` XML. `hostCPUModel` names the host's CPU (host-passthrough guests need
    /// exactly that model); `pools` decide whether a disk's storage is shared.
    static func parse(_ xml: String, hostCPUModel: String, pools: [StoragePoolInfo]) throws -> DomainDefinition {
        let root = try XMLTree.parse(xml)
        let memory = try root.first("memory").map(kibibytes) ?? 0
        let current = try root.first("currentMemory").map(kibibytes) ?? memory
        // The element text is the maximum vCPU count (`current=` may be lower): a target must be
        // able to hold the maximum, since the guest can hot-plug up to it.
        let vcpus = Int(root.text("vcpu") ?? "") ?? 1
        let devices = root.first("devices")
        let nicElements = devices?.children("interface") ?? []
        // An SR-IOV VF given as <interface type='hostdev'> is a passed-through PCI device too.
        let vfs = nicElements.filter { $0.attr("type") == "hostdev" }.map { pciID($0.first("source/address")) }
        return DomainDefinition(
            memoryKiB: memory, currentMemoryKiB: current, vcpus: vcpus,
            cpu: cpu(root.first("cpu"), hostCPUModel: hostCPUModel),
            nics: nicElements.map(nic),
            disks: (devices?.children("disk") ?? []).map { disk($0, pools: pools) },
            hostDevices: (devices?.children("hostdev") ?? []).compactMap(hostdevID) + vfs,
            filesystems: (devices?.children("filesystem") ?? []).map(filesystem),
            machine: root.first("os/type")?.attr("machine"),
            virtType: root.attr("type").flatMap { $0.isEmpty ? nil : $0 })
    }

    /// `<filesystem>`: "/srv/share → share (virtiofs)"; the driver is 9p when none is named.
    static func filesystem(_ e: XMLTree) -> String {
        let source =
            e.first("source").flatMap { $0.attr("dir") ?? $0.attr("name") ?? $0.attr("file") ?? $0.attr("socket") }
            ?? "?"
        let tag = e.first("target")?.attr("dir") ?? "?"
        return "\(source) → \(tag) (\(e.first("driver")?.attr("type") ?? "9p"))"
    }

    // MARK: memory

    /// Bytes per unit, as libvirt defines them (domain XML "memory" units; default KiB).
    static let unitBytes: [String: UInt64] = {
        var table: [String: UInt64] = ["b": 1, "bytes": 1]
        let prefixes = ["k", "m", "g", "t", "p", "e"]
        for (i, p) in prefixes.enumerated() {
            let binary = UInt64(1) << (10 * UInt64(i + 1))
            var decimal: UInt64 = 1
            for _ in 0...i { decimal *= 1000 }
            table[p] = binary
            table[p + "ib"] = binary
            table[p + "b"] = decimal
        }
        return table
    }()

    /// An element like `<memory unit='MiB'>4096</memory>` in KiB, rounded up as libvirt does.
    static func kibibytes(_ e: XMLTree) throws -> UInt64 {
        guard let value = UInt64(e.text ?? "") else { throw DomainXMLError("bad <\(e.name)> value '\(e.text ?? "")'") }
        let unit = (e.attr("unit") ?? "KiB").lowercased()
        guard let factor = unitBytes[unit] else { throw DomainXMLError("unknown unit '\(unit)' in <\(e.name)>") }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: factor)
        guard !overflow else { throw DomainXMLError("<\(e.name)> too large") }
        // Not (bytes + 1023) / 1024: that overflows for a value near UInt64.max.
        return bytes / 1024 + (bytes % 1024 == 0 ? 0 : 1)
    }

    // MARK: cpu

    static func cpu(_ e: XMLTree?, hostCPUModel: String) -> GuestCPU {
        guard let e else { return GuestCPU(mode: .none) }
        var c = cpuMode(e, hostCPUModel: hostCPUModel)
        c.check = e.attr("check")
        return c
    }

    static func cpuMode(_ e: XMLTree, hostCPUModel: String) -> GuestCPU {
        // Features the guest cannot run without; a feature without a policy means "require".
        let required = e.children("feature")
            .filter { ["require", "force", nil].contains($0.attr("policy")) }
            .compactMap { $0.attr("name") }
        switch e.attr("mode") ?? "custom" {
        case "host-passthrough":
            return GuestCPU(
                mode: .hostPassthrough, model: hostCPUModel.isEmpty ? nil : hostCPUModel, features: required)
        case "host-model":
            return GuestCPU(mode: .hostModel, model: e.text("model"), features: required)
        case "maximum":
            return GuestCPU(mode: .maximum, features: required)
        default:
            // A running host-model guest shows up here too: its live XML is the expanded custom model.
            return GuestCPU(mode: .custom, model: e.text("model"), features: required)
        }
    }

    // MARK: devices

    static func nic(_ e: XMLTree) -> GuestNIC {
        var n = nicKind(e)
        n.filter = e.first("filterref")?.attr("filter")
        return n
    }

    static func nicKind(_ e: XMLTree) -> GuestNIC {
        let mac = e.first("mac")?.attr("address")
        let source = e.first("source")
        // A running guest's NIC on a libvirt network shows the network's actual type in its live
        // XML (`<interface type='bridge'><source network='lab-net' bridge='nb-lab-net'/>` for a
        // bridge or forward-mode-bridge network, type='direct' for macvtap ones), but it migrates
        // as `type='network'`: the target needs the network, active, not the bridge (seen on the
        // lab: libvirt refuses "network 'lab-net' is not active" where the bridge exists).
        if let network = source?.attr("network") {
            return GuestNIC(kind: .network, source: network, mac: mac)
        }
        switch e.attr("type") {
        case "bridge": return GuestNIC(kind: .bridge, source: source?.attr("bridge") ?? "", mac: mac)
        case "network": return GuestNIC(kind: .network, source: source?.attr("network") ?? "", mac: mac)
        case "direct": return GuestNIC(kind: .direct, source: source?.attr("dev") ?? "", mac: mac)
        case "user": return GuestNIC(kind: .user, source: "", mac: mac)
        // ethernet, vhostuser, hostdev, …: keep the type so reports can say what it is.
        case let other: return GuestNIC(kind: .other, source: other ?? "", mac: mac)
        }
    }

    static func disk(_ e: XMLTree, pools: [StoragePoolInfo]) -> GuestDisk {
        let device = e.attr("device") ?? "disk"
        let target = e.first("target")?.attr("dev") ?? ""
        let readonly = e.first("readonly") != nil
        let src = e.first("source")
        var kind = GuestDisk.Kind.other
        var source = ""
        var shared = false
        switch e.attr("type") ?? "file" {
        case "file":
            kind = .file
            source = src?.attr("file") ?? ""
        case "block":
            kind = .block
            source = src?.attr("dev") ?? ""
        case "network":
            // Network storage (rbd, iscsi, nbd, gluster, …) is reachable from any host by definition.
            kind = .network
            shared = true
            let proto = src?.attr("protocol") ?? "network"
            source = "\(proto):\(src?.attr("name") ?? src?.first("host")?.attr("name") ?? "")"
        case "volume":
            kind = .volume
            let pool = src?.attr("pool") ?? ""
            source = "\(pool)/\(src?.attr("volume") ?? "")"
            shared = pools.first { $0.name == pool }?.shared ?? false
        case let other:
            source = src?.attr("file") ?? src?.attr("dir") ?? src?.attr("dev") ?? other
        }
        if e.first("shareable") != nil { shared = true }
        // An empty removable drive has nothing to copy.
        if (device == "cdrom" || device == "floppy") && source.isEmpty { shared = true }
        if (kind == .file || kind == .block), !source.isEmpty, isUnderSharedPool(source, pools) { shared = true }
        return GuestDisk(
            kind: kind, device: device, target: target, source: source, shared: shared, readonly: readonly,
            format: e.first("driver")?.attr("type"), backingChain: backingChain(e))
    }

    /// `<backingStore type='file'><source file=…/><backingStore …/></backingStore>`: the images
    /// under the top one, nearest first (the live XML of a running guest lists them; an empty
    /// `<backingStore/>` ends the chain).
    static func backingChain(_ disk: XMLTree) -> [String] {
        var out: [String] = []
        var next = disk.first("backingStore")
        while let b = next, out.count < 64, let src = b.first("source") {
            out.append(src.attr("file") ?? src.attr("dev") ?? src.attr("name") ?? "?")
            next = b.first("backingStore")
        }
        return out
    }

    static func isUnderSharedPool(_ path: String, _ pools: [StoragePoolInfo]) -> Bool {
        pools.contains { pool in
            guard pool.shared, let dir = pool.targetPath, !dir.isEmpty else { return false }
            let prefix = dir.hasSuffix("/") ? dir : dir + "/"
            return path.hasPrefix(prefix)
        }
    }

    /// "pci:0000:03:00.0", "usb:046d:c52b" (or "usb:bus.device"), "scsi:scsi_host0:0:0:1",
    /// "scsi:iscsi:<iqn>", "mdev:<uuid>"; other kinds as "<type>:?" so they still count.
    static func hostdevID(_ e: XMLTree) -> String? {
        let type = e.attr("type") ?? "unknown"
        let src = e.first("source")
        let addr = src?.first("address")
        switch type {
        case "pci":
            return pciID(addr)
        case "usb":
            if let v = hex(src?.first("vendor")?.attr("id")), let p = hex(src?.first("product")?.attr("id")) {
                return "usb:" + hex4(v) + ":" + hex4(p)
            }
            return "usb:\(addr?.attr("bus") ?? "?").\(addr?.attr("device") ?? "?")"
        case "scsi":
            if src?.attr("protocol") == "iscsi" {
                return "scsi:iscsi:\(src?.first("host")?.attr("name") ?? ""):\(src?.attr("name") ?? "")"
            }
            let adapter = src?.first("adapter")?.attr("name") ?? "?"
            return
                "scsi:\(adapter):\(addr?.attr("bus") ?? "?"):\(addr?.attr("target") ?? "?"):\(addr?.attr("unit") ?? "?")"
        case "mdev":
            return "mdev:\(addr?.attr("uuid") ?? "?")"
        default:
            return "\(type):?"
        }
    }

    /// `<address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/>` → "pci:0000:03:00.0".
    static func pciID(_ a: XMLTree?) -> String {
        guard let a, let bus = hex(a.attr("bus")), let slot = hex(a.attr("slot")), let fn = hex(a.attr("function"))
        else { return "pci:?" }
        return "pci:" + hex4(hex(a.attr("domain")) ?? 0) + ":" + hex2(bus) + ":" + hex2(slot) + "."
            + String(fn, radix: 16)
    }

    private static func hex(_ s: String?) -> UInt? {
        guard let s else { return nil }
        return s.hasPrefix("0x") ? UInt(s.dropFirst(2), radix: 16) : UInt(s, radix: 16)
    }
    private static func hex2(_ v: UInt) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, 2 - s.count)) + s
    }
    private static func hex4(_ v: UInt) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }
}

struct DomainXMLError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
