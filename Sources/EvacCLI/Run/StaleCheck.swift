import EvacCore

/// Compares a saved plan with the live inventory: what changed since it was computed.
enum StaleCheck {
    struct Findings {
        /// Changes that make the plan wrong: the run is refused unless forced.
        var changes: [String] = []
        /// Targets that do not answer now: not a reason to refuse the whole plan — their
        /// migrations are blocked by the pre-checks, naming host and URI, and the rest run.
        var unreachableTargets: [String] = []
    }

    static func findings(plan: PlanFile, live: Inventory) -> Findings {
        let down = live.unreachable.filter { plan.targets.contains($0.name) }
        return Findings(
            changes: changes(plan: plan, live: live, targetsDown: Set(down.map(\.name))),
            unreachableTargets: down.map { "\($0.name) (\($0.uri)): \($0.error)" })
    }

    private static func changes(plan: PlanFile, live: Inventory, targetsDown: Set<String>) -> [String] {
        var out: [String] = []
        var whereIs: [String: (host: String, guest: Guest)] = [:]
        for h in live.hosts { for g in h.guests { whereIs[g.uuid] = (h.name, g) } }
        for n in plan.graph.nodes {
            guard let (host, g) = whereIs[n.uuid] else {
                if live.unreachable.contains(where: { $0.name == n.source }) {
                    out.append("\(n.guest): source \(n.source) is unreachable")
                } else {
                    out.append("\(n.guest): gone (no guest with UUID \(n.uuid) on the plan's hosts)")
                }
                continue
            }
            if host != n.source { out.append("\(n.guest): moved from \(n.source) to \(host)") }
            if g.memoryKiB != n.memoryKiB || g.vcpus != n.vcpus {
                out.append(
                    "\(n.guest): resized from \(Format.kib(n.memoryKiB)), \(n.vcpus) vCPU to \(Format.kib(g.memoryKiB)), \(g.vcpus) vCPU"
                )
            }
            let wantActive = n.mode != .offline
            if g.state.isActive != wantActive {
                out.append("\(n.guest): now \(g.state.rawValue) (planned \(n.mode.rawValue))")
            }
        }
        for u in plan.targetUsage {
            guard let h = live.host(named: u.host) else {
                if !targetsDown.contains(u.host) { out.append("target \(u.host): unreachable") }
                continue
            }
            if h.memoryKiB < u.memoryKiB {
                out.append(
                    "target \(u.host): less memory, \(Format.kib(h.memoryKiB)) now, \(Format.kib(u.memoryKiB)) when planned"
                )
            }
            let used = h.guests.reduce(UInt64(0)) { $0 &+ $1.memoryKiB } // a daemon's figures: never trap
            if used > u.usedBeforeKiB {
                out.append(
                    "target \(u.host): fuller, \(Format.kib(used)) of guests now, \(Format.kib(u.usedBeforeKiB)) when planned"
                )
            } else if used < u.usedBeforeKiB {
                out.append(
                    "target \(u.host): emptier, \(Format.kib(used)) of guests now, \(Format.kib(u.usedBeforeKiB)) when planned"
                )
            }
        }
        // With a target down the fingerprint cannot match; the comparisons above are then the
        // whole check.
        if out.isEmpty && targetsDown.isEmpty && live.fingerprint != plan.inventoryFingerprint {
            out.append("other changes on the plan's hosts (guests added, bridges, networks, storage or CPU)")
        }
        return out
    }
}
