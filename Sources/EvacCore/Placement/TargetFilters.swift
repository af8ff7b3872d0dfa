import Foundation

/// The filters that depend on the guest's identity or on what is already planned, in the order
/// they are reported after the static ones (see `StaticFilters`). Each returns the rejection or nil.
extension FleetState {
    /// A guest with the same name or UUID is defined on the target or already planned onto it.
    func nameConflict(_ m: Int, _ t: Int) -> Rejection? {
        if !definedOn[m].isEmpty, definedOn[m].contains(t) {
            let g = movers[m]
            let what = hosts[t].guests.contains { $0.name == g.name } ? "named \(g.name)" : "with UUID \(g.uuid)"
            return Rejection(
                target: names[t], filter: .nameConflict, reason: "a guest \(what) is already defined here")
        }
        guard hasTwin[m] else { return nil }
        let g = movers[m]
        for o in incoming[t] where o != m && (movers[o].name == g.name || movers[o].uuid == g.uuid) {
            let what = movers[o].name == g.name ? "named \(g.name)" : "with UUID \(g.uuid)"
            return Rejection(
                target: names[t], filter: .nameConflict,
                reason: "a guest \(what) from \(movers[o].source) is planned here")
        }
        return nil
    }

    func pin(_ m: Int, _ t: Int) -> Rejection? {
        let p = pinOf[m]
        if p == Self.unpinned || p == t { return nil }
        let host: String
        switch movers[m].pin {
        case .elsewhere(let h): host = h
        default: host = names[p]
        }
        return Rejection(target: names[t], filter: .pin, reason: "pinned to \(host) (constraints.pins)")
    }

    func memory(_ m: Int, _ t: Int) -> Rejection? {
        let f = free(t)
        guard f < need[m] else { return nil }
        // libvirt moves a shut-off guest's definition without a memory check: refusing it is
        // evac's policy (the guest could not start there), which the plan may waive.
        let offline = movers[m].mode == .offline
        return Rejection(
            target: names[t], filter: .memory,
            reason: "\(Format.kib(signed: f)) free after reserve, needs \(Format.kib(movers[m].memKiB))"
                + (offline ? " to start (shut off: libvirt would move its definition)" : ""),
            policy: offline ? .shutOffMemory : nil)
    }

    func vcpuRatio(_ m: Int, _ t: Int) -> Rejection? {
        guard let limit = maxVCPURatio else { return nil }
        let total = vcpusBefore[t] + plannedVCPUs[t] + vcpus[m]
        if cpus[t] > 0, Double(total) <= limit * Double(cpus[t]) { return nil }
        let ratio = cpus[t] > 0 ? String(format: "%.2f", Double(total) / Double(cpus[t])) : "∞"
        return Rejection(
            target: names[t], filter: .vcpuRatio,
            reason: "would run \(total) vCPUs on \(cpus[t]) CPUs (\(ratio) per CPU), max-vcpu-ratio is \(limit)")
    }

    func antiAffinity(_ m: Int, _ t: Int) -> Rejection? {
        for grp in groupsOf[m] {
            if let other = existingGroups[t][grp] {
                return Rejection(
                    target: names[t], filter: .antiAffinity,
                    reason: "anti-affinity group \(groupNames[grp]): \(other) already runs here")
            }
            if let o = incoming[t].filter({ $0 != m && groupsOf[$0].contains(grp) }).min(by: {
                movers[$0].name < movers[$1].name
            }) {
                return Rejection(
                    target: names[t], filter: .antiAffinity,
                    reason: "anti-affinity group \(groupNames[grp]): \(movers[o].name) is planned here")
            }
        }
        return nil
    }

    /// Every guest-dependent filter except memory (which the free trees answer).
    func othersReject(_ m: Int, _ t: Int) -> Rejection? {
        nameConflict(m, t) ?? pin(m, t) ?? vcpuRatio(m, t) ?? antiAffinity(m, t) ?? storageCopyRoom(m, t)
    }

    /// The guest-dependent filters in report order.
    func dynamicRejection(_ m: Int, _ t: Int) -> Rejection? {
        nameConflict(m, t) ?? pin(m, t) ?? memory(m, t) ?? vcpuRatio(m, t) ?? antiAffinity(m, t)
            ?? storageCopyRoom(m, t)
    }
}
