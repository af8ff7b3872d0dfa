/// Checks of a plan against the inventory it will be placed on: patterns that match no guest
/// are warnings (a typo in an exclude list should not go unnoticed at 3 a.m.).
public enum InventoryChecks {
    /// The warnings and errors of `spec` against `inventory` (hosts or guests the plan names that
    /// are not there), located in `file`.
    public static func check(_ spec: PlanSpec, inventory: Inventory, file: String) -> [Diagnostic] {
        var sink = DiagnosticSink(file: file)
        let sourceGuests = spec.sourceNames.compactMap { inventory.host(named: $0) }.flatMap { $0.guests.map(\.name) }
        func warnUnmatched(_ globs: [Located<Glob>], _ what: String) {
            for g in globs where !sourceGuests.contains(where: g.value.matches) {
                let near = Spelling.closest(to: g.value.pattern, in: sourceGuests)
                sink.warning(
                    g.mark, span: g.value.pattern.count, "\(what) pattern '\(g.value)' matches no guest on the sources",
                    help: near.map { "did you mean '\($0)'?" } ?? "check the spelling, or remove the pattern")
            }
        }
        warnUnmatched(spec.select.include, "select.include")
        warnUnmatched(spec.select.exclude, "select.exclude")
        for group in spec.constraints.antiAffinity { warnUnmatched(group.guests, "anti-affinity '\(group.name)'") }
        warnUnmatched(spec.constraints.pins.map(\.guest), "pin")
        for rule in spec.placement.priority { warnUnmatched(rule.guests, "priority") }
        for rule in spec.placement.after {
            warnUnmatched(rule.move, "after-rule move")
            warnUnmatched(rule.after, "after-rule after")
        }
        return sink.diagnostics
    }
}
