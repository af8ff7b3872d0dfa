/// Turns the final search state into a `PlacementResult`: placements and unplaceable guests in
/// the plan's order, a rejection for every target of every unplaceable guest, target usage.
enum ResultAssembly {
    /// Mover indexes in the plan's migration order; ties by guest name, then plan position.
    static func planOrder(_ movers: [Mover], _ order: PlacementPolicy.Order) -> [Int] {
        planOrder(movers.indices.map { (movers[$0].memKiB, movers[$0].name, movers[$0].listed) }, order)
    }

    static func planOrder(_ keys: [(mem: UInt64, name: String, listed: Int)], _ order: PlacementPolicy.Order) -> [Int] {
        keys.indices.sorted { a, b in
            let x = keys[a]
            let y = keys[b]
            switch order {
            case .asListed: return x.listed < y.listed
            // shortest-drain starts from largest-first; DrainOrder reorders the graph.
            case .largestFirst where x.mem != y.mem, .shortestDrain where x.mem != y.mem: return x.mem > y.mem
            case .smallestFirst where x.mem != y.mem: return x.mem < y.mem
            default: return (x.name, x.listed) < (y.name, y.listed)
            }
        }
    }

    static func build(
        search: Search, input: PlacementInput, spec: PlanSpec, inventory: Inventory,
        reserveKiB: UInt64, notes: [String]
    ) -> PlacementResult {
        let state = search.state
        let movers = input.movers
        let offMostFree = search.offMostFree()

        var placements: [Placement] = []
        for m in planOrder(movers, spec.placement.order) where state.target[m] >= 0 {
            let g = movers[m]
            placements.append(
                Placement(
                    guest: g.name, uuid: g.uuid, source: g.source, target: state.names[state.target[m]],
                    memoryKiB: g.memKiB, vcpus: g.vcpus, mode: g.mode,
                    copyStorage: g.copyStorage, offMostFree: offMostFree[m]))
        }

        // Unplaceable movers and guest-level refusals share the plan's order.
        var rows: [(mem: UInt64, name: String, listed: Int, value: Unplaceable)] = input.refused.map {
            ($0.unplaceable.memoryKiB, $0.unplaceable.guest, $0.listed, $0.unplaceable)
        }
        for m in movers.indices where state.target[m] < 0 {
            let g = movers[m]
            rows.append(
                (
                    g.memKiB, g.name, g.listed,
                    Unplaceable(
                        guest: g.name, uuid: g.uuid, source: g.source, memoryKiB: g.memKiB, vcpus: g.vcpus,
                        guestReason: nil, candidates: rejections(m, search: search, input: input))
                ))
        }
        let unplaceable = planOrder(rows.map { ($0.mem, $0.name, $0.listed) }, spec.placement.order).map {
            rows[$0].value
        }

        return PlacementResult(
            placements: placements, unplaceable: unplaceable, skipped: input.skipped,
            targets: usage(state: state, input: input, inventory: inventory, reserveKiB: reserveKiB),
            notes: notes)
    }

    /// The first filter that rejects the mover on each target of the plan, by target name.
    static func rejections(_ m: Int, search: Search, input: PlacementInput) -> [Rejection] {
        let needs = input.needs[input.movers[m].needs]
        return input.targets.all.map { row in
            switch row.status {
            case .unreachable(let uri):
                return Rejection(target: row.name, filter: .unreachable, reason: "unreachable (\(uri))")
            case .source:
                return Rejection(target: row.name, filter: .isSource, reason: "is a source of this plan")
            case .valid(let t):
                return StaticFilters.first(needs, input.targets.profiles[t], target: row.name)
                    ?? search.state.dynamicRejection(m, t)
                    // Unreachable by construction: the final sweep places a guest any target accepts.
                    ?? Rejection(target: row.name, filter: .search, reason: "not chosen by the bounded search")
            }
        }
    }

    static func usage(
        state: FleetState, input: PlacementInput, inventory: Inventory, reserveKiB: UInt64
    ) -> [TargetUsage] {
        input.targets.all.compactMap { row -> TargetUsage? in
            switch row.status {
            case .unreachable: return nil
            case .valid(let t):
                let h = input.targets.hosts[t]
                return TargetUsage(
                    host: h.name, memoryKiB: h.memoryKiB, reserveKiB: reserveKiB,
                    usedBeforeKiB: UInt64(state.usedBefore[t]),
                    usedAfterKiB: UInt64(state.usedBefore[t] + state.planned[t]),
                    cpus: h.cpus, vcpusBefore: state.vcpusBefore[t],
                    vcpusAfter: state.vcpusBefore[t] + state.plannedVCPUs[t], incoming: state.incoming[t].count)
            case .source:
                // A source listed as a target takes nothing; its usage is shown as it stands.
                guard let h = inventory.host(named: row.name) else { return nil }
                let used = h.guests.reduce(UInt64(0)) { $0 + $1.memoryKiB }
                let vcpus = h.guests.reduce(0) { $0 + $1.vcpus }
                return TargetUsage(
                    host: h.name, memoryKiB: h.memoryKiB, reserveKiB: reserveKiB, usedBeforeKiB: used,
                    usedAfterKiB: used, cpus: h.cpus,
                    vcpusBefore: vcpus, vcpusAfter: vcpus, incoming: 0)
            }
        }
    }
}
