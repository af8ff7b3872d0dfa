extension PlanReader {
    /// The keys of a `migration.groups` entry besides the migration options it overrides.
    static let migrationGroupKeys = ["name", "guests"]

    /// `migration.groups: [{ name, guests, <any migration key but groups> }]`: the guests a
    /// group's globs match migrate with the plan's options and the group's keys over them. The
    /// first group matching a guest wins (as for `placement.priority` and pins).
    static func readMigrationGroups(
        _ node: Node, base: MigrationOptions, _ r: inout NodeReader
    ) -> [MigrationGroupSpec] {
        guard let items = r.list(node, context: "migration.groups") else { return [] }
        var out: [MigrationGroupSpec] = []
        var firstAt: [String: Mark] = [:]
        for (i, item) in items.enumerated() {
            let context = "migration group \(i + 1)"
            guard let m = r.mapping(item, context: context, known: migrationGroupKeys + migrationKeys) else { continue }
            let nameNode = r.require(m, "name", in: item, context: context, example: "databases")
            let name = nameNode.flatMap { r.string($0, context: "the name of \(context)") }
            let guests = r.require(m, "guests", in: item, context: context, example: "[\"db-*\"]").flatMap {
                r.globs($0, context: "the guests of \(context)", allowEmpty: false)
            }
            let options = readOptions(m, at: item, base: base, &r)
            let keys = (item.pairs ?? []).compactMap { $0.key.scalar?.value }.filter {
                migrationKeys.contains($0)
            }
            guard let name, let nameNode, let guests else { continue }
            if let first = firstAt[name] {
                r.sink.error(
                    nameNode.mark, span: name.count,
                    "migration group '\(name)' is listed twice (first at line \(first.line))",
                    help: "give each group its own name; the plan file and the report name a guest's group by it")
                continue
            }
            firstAt[name] = nameNode.mark
            if keys.isEmpty {
                r.sink.warning(
                    item.mark, "migration group '\(name)' sets no migration option: its guests migrate as the plan's",
                    help: "add the options its guests migrate with (bandwidth, max-downtime, ladder, …), or remove it")
            }
            out.append(MigrationGroupSpec(name: name, guests: guests, options: options, keys: keys, mark: item.mark))
        }
        return out
    }
}
