import EvacCoordinator
import EvacCore
import Foundation

/// The inventory as a planner sharing the fleet must see it: a host another run drains is no
/// target (it is left out as unreachable, with a note naming the run), and the memory other
/// runs reserved on a target is taken off it, as if their migrations had landed.
enum FleetHoldsView {
    static func apply(_ holds: FleetHolds, to inventory: Inventory, sources: Set<String>) -> Inventory {
        var hosts: [HostInventory] = []
        var unreachable = inventory.unreachable
        for var h in inventory.hosts {
            if let by = holds.drained[h.name], !sources.contains(h.name) {
                Console.error("note: coordinator: \(h.name) is being drained by \(by); it is no target of this plan\n")
                unreachable.append(UnreachableHost(name: h.name, uri: h.uri, error: "being drained by \(by)"))
                continue
            }
            if let kib = holds.reservedKiB[h.name], kib > 0 {
                Console.error(
                    "note: coordinator: \(Format.bytes(Double(kib) * 1024)) of \(h.name) is reserved by other runs' migrations\n"
                )
                h.memoryKiB = h.memoryKiB > kib ? h.memoryKiB - kib : 0
                h.freeMemoryKiB = h.freeMemoryKiB > kib ? h.freeMemoryKiB - kib : 0
            }
            hosts.append(h)
        }
        return Inventory(hosts: hosts, unreachable: unreachable)
    }
}
