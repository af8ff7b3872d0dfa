/// Placement: which target each guest on the plan's sources moves to.
///
/// Guests considered are every guest of every source host in the inventory, in plan order
/// (sources missing from the inventory are skipped here; the CLI reports them). Per guest:
/// - selection: not matched by `select.include` (when given) or matched by `select.exclude` →
///   skipped "excluded"; shut off or crashed with `stopped: skip`, or transient and not running →
///   skipped "stopped"; running transient with `transient: skip` → skipped "transient";
/// - mode: shut-off persistent guests move as a definition (`offline`); active ones (running,
///   paused, blocked, pmsuspended, in shutdown) with the plan's mode. A plan in `offline` mode
///   refuses active guests rather than silently shutting them down; state `unknown` is refused.
/// - guest-level refusals (`Unplaceable.guestReason`, no candidates): an active guest with host
///   devices; a local (non-shared) disk when `local-storage: refuse` (with `copy`, the local disks
///   are listed in `Placement.copyStorage`, also for definitions moved offline).
///
/// Target filters, reported in this order (the first that rejects): unreachable, is-source,
/// arch, cpu-vendor / cpu-model / cpu-features / cpu-pool, bridge, name-conflict, pin, memory,
/// vcpu-ratio, anti-affinity. Memory is accounted from allocations (`FleetState`). A guest that
/// no target takes is unplaceable with one rejection per target of the plan, sorted by name,
/// with memory figures as they stand at the end of placement.
///
/// The search (`.evac`): guests are processed most constrained first (fewest targets that could
/// take them on an empty plan, then largest, then plan order) and each goes to the target the
/// policy picks (`most-free-memory`: most free after what is planned, ties by name). Guests left
/// over are repaired by bounded ejection chains (`RepairLimits`); if guests that some target could
/// take are still left, the same is tried packing by the other policy (best fit), and the
/// attempt that places most guests wins (the first on ties). Guests not on the target the policy
/// would pick say why in `Placement.offMostFree`. The result lists placements in the plan's order
/// (`placement.order`) whatever the processing order. Everything is deterministic: ties are
/// broken by host and guest names, and no dictionary order or randomness reaches the result.
public enum Placer {
    /// Places every selected guest of `spec`'s sources on a target from the inventory, with a
    /// reason per refused target for each guest left unplaced.
    public static func place(
        spec: PlanSpec, inventory: Inventory, options: PlacerOptions = PlacerOptions()
    ) -> PlacementResult {
        let input = PlacementInput(spec: spec, inventory: inventory)
        let reserveKiB = (spec.constraints.memoryReserveBytes + 1023) / 1024
        let state = FleetState(targets: input.targets, movers: input.movers, reserveKiB: reserveKiB, spec: spec)
        let base = Search(input: input, state: state)
        let choose = spec.placement.choose
        var notes: [String] = []
        var search = base
        switch options.strategy {
        case .greedyAsListed:
            search.greedy(Array(input.movers.indices), choose)
        case .greedyLargestFirst:
            search.greedy(ResultAssembly.planOrder(input.movers, .largestFirst), choose)
        case .greedySmallestFirst:
            search.greedy(ResultAssembly.planOrder(input.movers, .smallestFirst), choose)
        case .evac:
            search = evac(base, choose: choose, limits: options.repair, notes: &notes)
        }
        return ResultAssembly.build(
            search: search, input: input, spec: spec, inventory: inventory,
            reserveKiB: reserveKiB, notes: notes)
    }

    static func evac(
        _ base: Search, choose: PlacementPolicy.Choose, limits: RepairLimits, notes: inout [String]
    ) -> Search {
        let mem = base.state.mem
        let listed = base.movers.map(\.listed)
        let priority = base.movers.map(\.priority)
        let feasible = mem.indices.map(base.feasibleCount)
        let order = mem.indices.sorted {
            (-priority[$0], feasible[$0], -mem[$0], listed[$0]) < (-priority[$1], feasible[$1], -mem[$1], listed[$1])
        }
        // Guests no target could take even on an empty plan cannot be helped by search.
        let hopeless = feasible.filter { $0 == 0 }.count
        let other: PlacementPolicy.Choose = choose == .mostFreeMemory ? .leastFreeMemory : .mostFreeMemory
        var best: Search? = nil
        var chosen = 0
        for (i, policy) in [choose, other].enumerated() {
            var s = base
            s.greedy(order, policy, annotate: i > 0 && choose == .mostFreeMemory)
            s.firstChoice = s.state.target
            var budget = limits.budget
            s.repair(order, choose: policy, limits: limits, budget: &budget)
            s.greedy(order, policy) // a last sweep: repair may have freed room for earlier leftovers
            if best == nil || s.unplaced.count < best!.unplaced.count {
                best = s
                chosen = i
            }
            if best!.unplaced.count <= hopeless { break }
        }
        var result = best!
        if result.unplaced.count > hopeless {
            // Not every guest fits: maximize what is placed instead (`Objective`).
            let (most, how) = mostPlaced(
                base, first: result, choose: choose, limits: limits, priority: priority,
                feasible: feasible, order: order)
            result = most
            if let how {
                if !how.hasPrefix("the search") { chosen = 0 } // another candidate won: not the fallback policy
                notes.append("not every guest fits: \(how) placed the most (by priority, then guests, then memory)")
            }
        }
        let leftover = result.unplaced.count
        if chosen > 0 {
            notes.append(
                "\(choose.rawValue) left guests unplaced; packed by \(other.rawValue) instead"
                    + (leftover == 0 ? ", which places every guest" : ""))
        }
        let repaired = result.offMostFree().filter { $0?.hasSuffix("(placed by repair)") == true }.count
        if repaired > 0 {
            notes.append("repair moved \(repaired) guest\(repaired == 1 ? "" : "s") off their most-free target")
        }
        return result
    }
}

extension Placer {
    /// When guests are left over: the best by `Objective` of the search so far (`first`), the
    /// same search taking guests smallest first within a priority (both policies), and the
    /// plain greedy rules (so the result is never below any of them), then local improvement
    /// of the best. Returns it and, when another than `first` won, how it was found.
    static func mostPlaced(
        _ base: Search, first: Search, choose: PlacementPolicy.Choose, limits: RepairLimits,
        priority: [Int], feasible: [Int], order: [Int]
    ) -> (Search, String?) {
        let objective = Objective(movers: base.movers)
        let mem = base.state.mem
        let listed = base.movers.map(\.listed)
        let smallFirst = mem.indices.sorted {
            (-priority[$0], mem[$0], feasible[$0], listed[$0]) < (-priority[$1], mem[$1], feasible[$1], listed[$1])
        }
        let other: PlacementPolicy.Choose = choose == .mostFreeMemory ? .leastFreeMemory : .mostFreeMemory
        var best = first
        var bestValue = objective.value(first.state)
        var how: String? = nil
        func consider(_ s: Search, _ name: String) {
            let v = objective.value(s.state)
            if Objective.better(v, than: bestValue) {
                best = s
                bestValue = v
                how = name
            }
        }
        for policy in [choose, other] {
            var s = base
            s.greedy(smallFirst, policy)
            s.firstChoice = s.state.target
            var budget = limits.budget
            s.repair(smallFirst, choose: policy, limits: limits, budget: &budget)
            s.greedy(smallFirst, policy)
            consider(s, "taking the smallest guests first (\(policy.rawValue))")
        }
        let plain: [(PlacementPolicy.Order, [Int])] = [.asListed, .largestFirst, .smallestFirst].map { o in
            (o, ResultAssembly.planOrder(base.movers, o))
        }
        for (o, plainOrder) in plain {
            for policy in [choose, other] {
                var s = base
                s.greedy(plainOrder, policy)
                s.firstChoice = s.state.target
                consider(s, "the plain rule \(o.rawValue), \(policy.rawValue),")
            }
        }
        var work = 2000 * limits.budget
        let beforeImprove = bestValue
        best.improve(objective, order: smallFirst, choose: choose, work: &work)
        if Objective.better(objective.value(best.state), than: beforeImprove) {
            how = (how ?? "the search") + " and trading planned guests for left-over ones"
        }
        return (best, how)
    }
}

/// How placement searches: the strategy (evac's, or a baseline for the benchmarks) and how
/// far its repair may go.
public struct PlacerOptions: Sendable, Hashable {
    /// How guests are ordered and placed.
    public enum Strategy: String, Sendable, CaseIterable {
        /// Baseline: plan guests in as-listed order, each on the policy's pick; no repair.
        case greedyAsListed = "greedy-as-listed"
        /// Baseline: largest first, each on the policy's pick; no repair.
        case greedyLargestFirst = "greedy-largest-first"
        /// Baseline: smallest first, each on the policy's pick; no repair.
        case greedySmallestFirst = "greedy-smallest-first"
        /// Most constrained first, then bounded repair and a best-fit fallback.
        case evac
    }
    /// Which strategy runs.
    public var strategy: Strategy
    /// Bounds on the repair phase (the evac strategy only).
    public var repair: RepairLimits
    /// Options; the defaults are what `evac plan` uses.
    public init(strategy: Strategy = .evac, repair: RepairLimits = RepairLimits()) {
        self.strategy = strategy
        self.repair = repair
    }
}
