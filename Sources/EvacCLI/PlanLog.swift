import EvacCore
import EvacLog

/// The placement decisions of `evac plan` / `evac apply PLAN.yaml` in the log: where each guest
/// goes and why not elsewhere, what nothing can take, and how long each stage took.
enum PlanLog {
    static let log = EvacLog.logger("evac.plan")

    static func stage(_ what: String, ms: Double) {
        log.debug("\(what) took \(Format.duration(ms: ms))")
    }

    static func decisions(_ r: PlacementResult, inventory: Inventory) {
        guard EvacLog.isEnabled else { return }
        log.info(
            "placement: \(r.placements.count) placed, \(r.unplaceable.count) unplaceable, \(r.skipped.count) staying",
            metadata: ["hosts_read": "\(inventory.hosts.count)", "unreachable": "\(inventory.unreachable.count)"])
        for p in r.placements {
            log.debug(
                "placed \(p.guest) \(p.source) → \(p.target)\(p.offMostFree.map { " (not the most free target: \($0))" } ?? "")",
                metadata: ["memory_kib": "\(p.memoryKiB)", "mode": "\(p.mode.rawValue)"])
        }
        for u in r.unplaceable {
            log.info("unplaceable \(u.guest) on \(u.source): \(u.why)")
        }
        for s in r.skipped { log.debug("staying \(s.guest) on \(s.source): \(s.why)") }
        for n in r.notes { log.info("note: \(n)") }
    }
}
