import EvacCore

extension FleetGenerator {
    /// A small fleet with a complete placement known to exist: every guest is first assigned to
    /// a random target that is compatible with it (same vendor, has its bridge), and each
    /// target's memory is then set so that what it got fills 90–100% of it. Greedy placement
    /// often fails such fleets; a complete search must not.
    public static func tight(
        seed: UInt64, guests: ClosedRange<Int> = 20...200,
        targets: ClosedRange<Int> = 4...20
    ) -> (PlanSpec, Inventory) {
        var rng = SplitMix64(seed: seed)
        let g = rng.int(guests)
        let t = rng.int(targets)
        let s = rng.int(1...3)
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
        for i in 0..<g {
            let a = assignedGuest(
                i, sourceVendor: sourceVendor, targetVendor: targetVendor, targetBridges: targetBridges,
                sizes: sizes, rng: &rng)
            assigned[a.target] += a.guest.memoryKiB
            sourceGuests[a.source].append(a.guest)
        }
        var hosts: [HostInventory] = []
        for i in 0..<s {
            hosts.append(
                HostInventory(
                    name: "src-\(i)", uri: "qemu+ssh://src-\(i)/system", memoryKiB: 1024 * gib, cpus: 128,
                    cpu: cpu(vendor: sourceVendor[i], generation: 0),
                    bridges: ["br-mgmt", "br-a", "br-b"], guests: sourceGuests[i]))
        }
        for i in 0..<t {
            let fill = 0.90 + 0.10 * rng.unit()
            let mem = assigned[i] == 0 ? 2 * gib : UInt64((Double(assigned[i]) / fill).rounded(.down))
            hosts.append(
                HostInventory(
                    name: "dst-" + pad(i, 2), uri: "qemu+ssh://dst-\(i)/system", memoryKiB: max(mem, assigned[i]),
                    cpus: 128, cpu: cpu(vendor: targetVendor[i], generation: 0), bridges: targetBridges[i]))
        }
        let plan = spec(
            name: "tight-\(seed)", sources: (0..<s).map { "src-\($0)" }, targets: (0..<t).map { "dst-" + pad($0, 2) })
        return (plan, Inventory(hosts: hosts))
    }

    /// One guest of a generated tight or overfull fleet, drawn in a fixed order from `rng`: its
    /// source, a bridge (one of the optional ones, or br-mgmt when no target of the source's
    /// vendor has it), its size, and the compatible target it is first assigned to.
    static func assignedGuest(
        _ i: Int, sourceVendor: [Int], targetVendor: [Int], targetBridges: [[String]],
        sizes: [UInt64], rng: inout SplitMix64
    )
        -> (source: Int, target: Int, fits: [Int], guest: Guest)
    {
        let t = targetVendor.count
        let src = rng.int(0...(sourceVendor.count - 1))
        var bridge = rng.chance(0.5) ? rng.pick(["br-a", "br-b"]) : "br-mgmt"
        var fits = (0..<t).filter { targetVendor[$0] == sourceVendor[src] && targetBridges[$0].contains(bridge) }
        if fits.isEmpty {
            bridge = "br-mgmt"
            fits = (0..<t).filter { targetVendor[$0] == sourceVendor[src] }
        }
        let mem = rng.pick(sizes) * gib
        let target = rng.pick(fits)
        let guest = Guest(
            uuid: rng.uuid(), name: "vm-" + pad(i, 4), state: .running, memoryKiB: mem, vcpus: rng.int(1...8),
            nics: [GuestNIC(kind: .bridge, source: bridge)],
            disks: [GuestDisk(kind: .network, target: "vda", source: "rbd:vms/\(i)", shared: true)])
        return (src, target, fits, guest)
    }
}
