internal import CLibvirt
import EvacCore

/// Builds the CPU definition to hand to `virConnectCompareHypervisorCPU` on a target for a
/// guest running on a source.
enum CPUComparison {
    struct Input: Equatable {
        var arch: String?
        var virtType: String?
        var cpuXML: String
    }

    /// nil when libvirt cannot judge: no `<cpu>`, or host-passthrough / maximum (those only
    /// ever match an identical host; libvirt has no definition to compare).
    /// A host-model guest is compared as the source's domain-capabilities host-model CPU
    /// (what the guest actually got), not the capabilities host CPU, which libvirt reports as
    /// incompatible even with its own host.
    static func input(
        domainXML: String, sourceDomainCapabilities: () throws(LibvirtError) -> String
    ) throws(LibvirtError) -> Input? {
        let dom = try parse(domainXML, "domain")
        let arch = dom.first("os/type")?.attr("arch")
        let virtType = dom.attr("type")
        guard let cpu = dom.first("cpu") else { return nil }
        // A shut-off guest (its XML has no `id`) whose CPU says check='none' is not judged by
        // libvirt: its definition moves without a CPU check, and QEMU starts it later dropping
        // what the host lacks. Comparing the raw model refused moves libvirt makes: qemu64 has
        // AMD's svm, so it is "incompatible" with every Intel host (the lab's rule table, big-1).
        if dom.attr("id") == nil, cpu.attr("check") == "none" { return nil }
        switch cpu.attr("mode") ?? "custom" {
        case "custom":
            guard cpu.first("model") != nil else { return nil }
            return Input(arch: arch, virtType: virtType, cpuXML: serialize(cpu))
        case "host-model":
            let caps = try parse(try sourceDomainCapabilities(), "domain capabilities")
            guard let hostModel = caps.all("cpu/mode").first(where: { $0.attr("name") == "host-model" }),
                hostModel.first("model") != nil
            else { return nil }
            let custom = XMLTree(
                name: "cpu", attributes: ["mode": "custom", "match": "exact"],
                elements: hostModel.elements)
            return Input(arch: arch, virtType: virtType, cpuXML: serialize(custom))
        default:
            return nil
        }
    }

    static func verdict(_ result: Int32) -> CPUVerdict? {
        switch result {
        case VIR_CPU_COMPARE_IDENTICAL.rawValue: .identical
        case VIR_CPU_COMPARE_SUPERSET.rawValue: .superset
        case VIR_CPU_COMPARE_INCOMPATIBLE.rawValue: .incompatible
        default: nil
        }
    }

    private static func parse(_ xml: String, _ what: String) throws(LibvirtError) -> XMLTree {
        do { return try XMLTree.parse(xml) } catch {
            throw LibvirtError.xml("cannot parse \(what): \(error)", uri: nil, operation: "parse \(what)")
        }
    }

    /// Minimal serialiser for the small `<cpu>` trees built here (attributes sorted for stable output).
    static func serialize(_ e: XMLTree) -> String {
        let attrs = e.attributes.sorted { $0.key < $1.key }.map { " \($0.key)='\(escape($0.value))'" }.joined()
        let inner = (e.text.map(escape) ?? "") + e.elements.map(serialize).joined()
        return inner.isEmpty ? "<\(e.name)\(attrs)/>" : "<\(e.name)\(attrs)>\(inner)</\(e.name)>"
    }

    private static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "'", with: "&apos;")
    }
}
