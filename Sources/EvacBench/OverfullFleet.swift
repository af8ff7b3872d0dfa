import EvacCore

extension FleetGenerator {
    /// A fleet that cannot be drained: like `tight`, every guest is first assigned to a random
    /// compatible target (same CPU vendor, has its bridge), but each target then gets only
    /// 90–100 % of the memory assigned to it, so some guests cannot be placed. `compatible`
    /// lists, per guest (in `vm-NNNN` order), the targets the static filters accept, for an
    /// exact solver to be run on the same fleet.
    public static func overfull(
        seed: UInt64, sources s: Int, targets t: Int, guestsPerTarget: ClosedRange<Int> = 8...14
    )
        -> (spec: PlanSpec, inventory: Inventory, compatible: [[Int]], memKiB: [UInt64], capacityKiB: [UInt64])
    {
        var rng = SplitMix64(seed: seed)
        let g = t * rng.int(guestsPerTarget)
        let sizes: [UInt64] = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32]
        var targetVendor: [Int] = []
        var targetBridges: [[String]] = []
        for _ in 0..<t {
            targetVendor.append(rng.int(0...1))
            targetBridges.append(["br-mgmt"] + ["br-a", "br-b"].filter { _ in rng.chance(0.55) })
        }
        let sourceVendor = (0..<s).map { _ in targetVendor[rng.int(0...(t - 1))] }
        var assigned = Array(repeating: UInt64(0), count: t)
        var sourceGuests: [[Guest]] = Array(repeating: [], count: s)
        var compatible: [[Int]] = []
        var memKiB: [UInt64] = []
        for i in 0..<g {
            let a = assignedGuest(
                i, sourceVendor: sourceVendor, targetVendor: targetVendor, targetBridges: targetBridges,
                sizes: sizes, rng: &rng)
            assigned[a.target] += a.guest.memoryKiB
            compatible.append(a.fits)
            memKiB.append(a.guest.memoryKiB)
            sourceGuests[a.source].append(a.guest)
        }
        var hosts: [HostInventory] = []
        for i in 0..<s {
            hosts.append(
                HostInventory(
                    name: "src-" + pad(i, 2), uri: "qemu+ssh://src-\(i)/system", memoryKiB: 4096 * gib,
                    cpus: 512, cpu: cpu(vendor: sourceVendor[i], generation: 0),
                    bridges: ["br-mgmt", "br-a", "br-b"], guests: sourceGuests[i]))
        }
        var capacity: [UInt64] = []
        for i in 0..<t {
            let fill = 0.90 + 0.10 * rng.unit()
            let mem = assigned[i] == 0 ? 2 * gib : UInt64((Double(assigned[i]) * fill).rounded(.down))
            capacity.append(mem)
            hosts.append(
                HostInventory(
                    name: "dst-" + pad(i, 2), uri: "qemu+ssh://dst-\(i)/system", memoryKiB: mem,
                    cpus: 512, cpu: cpu(vendor: targetVendor[i], generation: 0), bridges: targetBridges[i]))
        }
        let plan = spec(
            name: "overfull-\(seed)", sources: (0..<s).map { "src-" + pad($0, 2) },
            targets: (0..<t).map { "dst-" + pad($0, 2) })
        return (plan, Inventory(hosts: hosts), compatible, memKiB, capacity)
    }
}
