/// Renames bridges and libvirt networks in a domain XML's `<interface>` elements, for
/// `VIR_MIGRATE_PARAM_DEST_XML` when the target names its bridges differently.
/// Text-level on purpose: the rest of the XML must reach libvirt byte for byte (a parse and
/// re-serialise round trip could drop namespaced metadata or reorder attributes).
enum BridgeRewrite {
    static func apply(_ map: [String: String], to xml: String) -> String {
        guard !map.isEmpty else { return xml }
        let interfaceBlock = /<interface\b[\s\S]*?<\/interface>/
        let sourceAttr = /(<source\b[^>]*?\b(?:bridge|network)=)(['"])([^'"]*)(['"])/
        return xml.replacing(interfaceBlock) { block in
            String(block.output).replacing(sourceAttr) { m in
                let name = String(m.output.3)
                return m.output.1 + m.output.2 + (map[name] ?? name) + m.output.4
            }
        }
    }
}
