import EvacCore

/// The migration DAG in Graphviz's language: one node per migration, clustered by source,
/// edges from `after` rules (an edge points from the migration that must finish first).
enum DotRenderer {
    static func render(_ graph: MigrationGraph, planName: String) -> String {
        var out = "digraph \(quote(planName)) {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n"
        let sources = Array(Set(graph.nodes.map(\.source))).sorted()
        for (i, source) in sources.enumerated() {
            out += "  subgraph cluster_\(i) {\n    label=\(quote("source " + source));\n"
            for n in graph.nodes where n.source == source {
                var label = "#\(n.id) \(n.guest)\\n→ \(n.target) (\(Format.kib(n.memoryKiB)), \(n.mode.rawValue))"
                if !n.groups.isEmpty { label += "\\ngroups: \(n.groups.joined(separator: ","))" }
                out += "    m\(n.id) [label=\(quote(label, escapeNewlines: false))];\n"
            }
            out += "  }\n"
        }
        for n in graph.nodes { for a in n.after { out += "  m\(a) -> m\(n.id);\n" } }
        out += "}\n"
        return out
    }

    static func quote(_ s: String, escapeNewlines: Bool = true) -> String {
        var e = s.replacingOccurrences(of: "\\", with: escapeNewlines ? "\\\\" : "\\").replacingOccurrences(
            of: "\"", with: "\\\"")
        if escapeNewlines { e = e.replacingOccurrences(of: "\n", with: "\\n") }
        return "\"\(e)\""
    }
}
