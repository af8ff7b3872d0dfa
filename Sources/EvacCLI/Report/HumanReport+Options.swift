import EvacCore

extension HumanReport {
    /// Which options each migration runs with, when the plan has `migration.groups`: the plan's
    /// and every group's (what it sets, what that makes), the migrations of each, and guests that
    /// more than one group matches (the first wins).
    static func migrationOptions(_ p: PlanPipeline) -> String {
        let spec = p.loaded.spec
        guard !spec.migrationGroups.isEmpty else { return "" }
        var byGroup: [String: [MigrationGraph.Node]] = [:]
        for n in p.graph.nodes { byGroup[n.migrationGroup ?? "", default: []].append(n) }
        var out = "\nMigration options (a guest gets those of the first group that matches it, else the plan's)\n"
        out += "  plan: \(describe(spec.migration))\(members(byGroup[""] ?? []))\n"
        for g in spec.migrationGroups {
            let globs = g.guests.map(\.value.pattern).joined(separator: ", ")
            out += "  group \(esc(g.name)) (\(esc(globs)); sets \(g.keys.joined(separator: ", "))): "
            out += describe(g.options) + members(byGroup[g.name] ?? []) + "\n"
        }
        for n in p.graph.nodes {
            let all = spec.migrationGroups.filter { $0.matches(n.guest) }.map(\.name)
            guard all.count > 1 else { continue }
            out += "  #\(n.id) \(esc(n.guest)) matches groups \(all.map(esc).joined(separator: ", ")): "
            out += "it gets \(esc(all[0]))'s (first match)\n"
        }
        return out
    }

    /// The options that decide how a migration goes, in the plan's words.
    static func describe(_ o: MigrationOptions) -> String { o.summary }

    private static func members(_ nodes: [MigrationGraph.Node]) -> String {
        guard !nodes.isEmpty else { return " — no migration" }
        let shown = nodes.prefix(8).map { "#\($0.id) \(esc($0.guest))" }.joined(separator: ", ")
        let more = nodes.count > 8 ? ", … \(nodes.count - 8) more" : ""
        return " — \(nodes.count) migration\(nodes.count == 1 ? "" : "s"): \(shown)\(more)"
    }

    private static func esc(_ s: String) -> String { TerminalText.escape(s) }
}
