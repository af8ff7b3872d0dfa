import EvacCore

extension FleetGenerator {
    /// A large, mixed fleet: `guests` guests spread over `sources` source hosts, and
    /// `hosts − sources` targets with room for about 1.5× what moves. Mixed vendors and CPU
    /// generations, optional bridges and networks, a few stopped, transient, passthrough and
    /// local-disk guests, an anti-affinity group (db-*), a pin, a reserve and a vCPU ratio.
    public static func scale(guests: Int, hosts: Int, sources: Int, seed: UInt64) -> (PlanSpec, Inventory) {
        precondition(sources >= 1 && hosts > sources)
        var rng = SplitMix64(seed: seed)
        let sizes: [UInt64] = [1, 2, 4, 8, 16, 32]
        let sizeWeights = [20, 25, 25, 15, 10, 5]
        let extraBridges = ["br-backup", "br-dmz", "br-storage"]
        let targetCount = hosts - sources
        let meanGuestGiB = 6.2
        let targetGiB = UInt64((Double(guests) * meanGuestGiB * 1.5 / Double(targetCount) / 64).rounded(.up) * 64) + 64

        // Every host has libvirt's default image directory as an active pool, so the local-disk
        // guests move by storage copy (no random draw: the fleet is otherwise the one measured
        // before storage-copy placement, which left every one of them unplaceable).
        let images = StoragePoolInfo(
            name: "default", type: "dir", targetPath: "/var/lib/libvirt/images", shared: false, active: true,
            availableBytes: 4 << 40)
        var inv: [HostInventory] = []
        var guestNo = 0
        for i in 0..<hosts {
            let isSource = i < sources
            let vendor = rng.int(0...1)
            let gen = isSource ? rng.int(0...2) : rng.pick([0, 1, 2], weights: [2, 3, 5])
            let cpu = cpu(vendor: vendor, generation: gen)
            let bridges = ["br-mgmt"] + extraBridges.filter { _ in rng.chance(isSource ? 0.5 : 0.8) }
            var networks = [NetworkInfo(name: "default", bridge: "virbr0", active: true)]
            if rng.chance(isSource ? 0.3 : 0.7) {
                networks.append(NetworkInfo(name: "ovs-prod", bridge: "ovsbr0", active: true))
            }
            let count = isSource ? guests / sources + (i < guests % sources ? 1 : 0) : rng.int(0...3)
            var gs: [Guest] = []
            for _ in 0..<count {
                guestNo += 1
                let name = (rng.chance(0.01) ? "db-" : isSource ? "vm-" : "old-") + pad(guestNo, 6)
                gs.append(
                    guest(
                        name: name, host: cpu, bridges: bridges, networks: networks,
                        memGiB: isSource ? rng.pick(sizes, weights: sizeWeights) : rng.pick([1, 2, 4]),
                        movable: isSource, rng: &rng))
            }
            let memGiB: UInt64 = isSource ? 512 : targetGiB
            inv.append(
                HostInventory(
                    name: hostName(i), uri: "qemu+ssh://\(hostName(i))/system", memoryKiB: memGiB * gib,
                    freeMemoryKiB: UInt64(rng.int(8...Int(memGiB / 2))) * gib, cpus: 64, cpu: cpu,
                    bridges: bridges + networks.compactMap(\.bridge), networks: networks,
                    storagePools: [images], guests: gs))
        }
        let names = inv.map(\.name)
        var pools: [String: String] = [:]
        for h in inv { pools[h.name] = "\(h.cpu.vendor)-\(h.cpu.model)" }
        var plan = spec(
            name: "scale-\(guests)", sources: Array(names[..<sources]), targets: Array(names[sources...]), pools: pools)
        plan.constraints.memoryReserveBytes = 4 * gib * 1024
        plan.constraints.maxVCPURatio = 8
        plan.constraints.localStorage = .copy
        plan.constraints.antiAffinity = [AntiAffinityGroup(name: "db", guests: [Located(Glob("db-*"))], maxInFlight: 1)]
        plan.constraints.pins = [
            PinRule(guest: Located(Glob("vm-000007")), host: Located(names[sources + targetCount / 2]))
        ]
        return (plan, Inventory(hosts: inv))
    }

    static func guest(
        name: String, host: HostCPU, bridges: [String], networks: [NetworkInfo], memGiB: UInt64,
        movable: Bool, rng: inout SplitMix64
    ) -> Guest {
        let state: Guest.State = rng.pick([.running, .paused, .shutoff], weights: [93, 2, 5])
        let mode: GuestCPU.Mode = rng.pick([.hostModel, .custom, .hostPassthrough, .none], weights: [80, 10, 5, 5])
        let cpu: GuestCPU
        switch mode {
        case .custom: cpu = GuestCPU(mode: .custom, model: host.model, features: Array(host.features.prefix(3)))
        case .hostPassthrough: cpu = GuestCPU(mode: .hostPassthrough, model: host.model)
        default: cpu = GuestCPU(mode: mode)
        }
        var nics = [GuestNIC(kind: .bridge, source: "br-mgmt")]
        if bridges.count > 1, rng.chance(0.5) {
            nics.append(GuestNIC(kind: .bridge, source: rng.pick(Array(bridges.dropFirst()))))
        }
        if rng.chance(0.2) { nics.append(GuestNIC(kind: .network, source: rng.pick(networks).name)) }
        var disks = [GuestDisk(kind: .network, target: "vda", source: "rbd:vms/\(name)", shared: true)]
        if movable, rng.chance(0.02) {
            disks.append(
                GuestDisk(
                    kind: .file, target: "vdb", source: "/var/lib/libvirt/images/\(name)-data.qcow2", shared: false,
                    format: "qcow2", capacityBytes: 40 << 30, allocationBytes: 10 << 30))
        }
        let hostdevs = movable && rng.chance(0.005) ? ["pci:0000:3b:00.\(rng.int(0...7))"] : []
        return Guest(
            uuid: rng.uuid(), name: name, state: state, persistent: state == .running ? !rng.chance(0.01) : true,
            memoryKiB: memGiB * gib, vcpus: rng.pick([1, 2, 4, 8], weights: [30, 35, 25, 10]), cpu: cpu,
            nics: nics, disks: disks, hostDevices: hostdevs)
    }
}
