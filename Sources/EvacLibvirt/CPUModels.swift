import EvacCore

/// What a host's QEMU offers a guest CPU, from its domain capabilities: the custom models it
/// knows (usable here or not: `usable='no'` only means some feature of the model is missing,
/// and a running guest's live CPU disables those, so libvirt migrates it; an unknown model it
/// refuses outright) and whether it has a host-model CPU. The plan-time side of the
/// CPU check; before each migration libvirt's own comparison (virConnectCompareHypervisorCPU)
/// is the judge.
enum CPUModels {
    struct Offer: Equatable {
        /// Every custom model the QEMU knows, sorted.
        var known: [String]
        var hostModel: Bool
    }

    /// `<domainCapabilities><cpu><mode name='host-model' supported=…/><mode name='custom'
    /// supported='yes'><model usable='no'>qemu64</model>…`; nil when the document has no `<cpu>`.
    static func offer(domainCapabilitiesXML xml: String) throws -> Offer? {
        let root = try XMLTree.parse(xml)
        let modes = root.all("cpu/mode")
        guard !modes.isEmpty else { return nil }
        let hostModel = modes.first { $0.attr("name") == "host-model" }?.attr("supported") == "yes"
        let custom = modes.first { $0.attr("name") == "custom" && $0.attr("supported") == "yes" }
        let known = (custom?.children("model") ?? []).compactMap(\.text)
        return Offer(known: Array(Set(known)).sorted(), hostModel: hostModel)
    }

    /// The host's offer, or nil where the driver has no domain capabilities (the test driver)
    /// or they cannot be read: unknown, and then not judged at plan time.
    /// `virtType` nil: the host's default type (KVM where it has it).
    static func read(_ c: LibvirtConnection, arch: String, virtType: String?) -> Offer? {
        guard
            let xml = Libvirt.optional(
                "virConnectGetDomainCapabilities", uri: c.uri,
                { () throws(LibvirtError) in
                    try c.domainCapabilitiesXML(arch: arch.isEmpty ? nil : arch, virtType: virtType)
                })
        else { return nil }
        return try? offer(domainCapabilitiesXML: xml)
    }
}
