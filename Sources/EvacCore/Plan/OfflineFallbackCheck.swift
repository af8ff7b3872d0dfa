extension PlanSpec {
    /// The migrations whose convergence ladder may end in the `offline` fallback while placement
    /// copies their disks: libvirt refuses VIR_MIGRATE_OFFLINE together with
    /// VIR_MIGRATE_NON_SHARED_DISK, and evac has no other honest way to copy a shut-off guest's
    /// disks, so the plan is refused, at the group (or `migration.ladder`) that sets the fallback.
    public func offlineFallbackRefusals(_ placements: [Placement], file: String) -> [Diagnostic] {
        var guestsAt: [String: (mark: Mark, scope: String, guests: [String])] = [:]
        var order: [String] = []
        for p in placements where p.mode == .live && !p.copyStorage.isEmpty {
            guard migration(for: p.guest).ladder?.fallback == .offline else { continue }
            let group = migrationGroup(of: p.guest)
            let key = group?.name ?? ""
            if guestsAt[key] == nil {
                order.append(key)
                guestsAt[key] = (
                    group?.mark ?? migrationLadderMark ?? Mark(line: 1, column: 1),
                    group.map { "migration group '\($0.name)'" } ?? "migration.ladder", []
                )
            }
            guestsAt[key]?.guests.append(p.guest)
        }
        return order.compactMap { key in
            guard let g = guestsAt[key] else { return nil }
            let names = g.guests.prefix(5).joined(separator: ", ") + (g.guests.count > 5 ? ", …" : "")
            return Diagnostic(
                .error, file: file, at: g.mark,
                "\(g.scope) ends in fallback offline, but \(g.guests.count) of its guests have local disks that "
                    + "would be copied (\(names)): libvirt cannot move a shut-off guest's local disks "
                    + "(VIR_MIGRATE_OFFLINE refuses VIR_MIGRATE_NON_SHARED_DISK)",
                help:
                    "give these guests another fallback in a migration group of their own (abort, retry-paused, skip, stop), or put their disks on storage the target shares"
            )
        }
    }
}
