@testable import EvacCore

/// Small builders for hand-made placement cases.
enum Fx {
    static let gib: UInt64 = 1_048_576
    static let icelake = HostCPU(vendor: "Intel", model: "Icelake-Server", features: ["avx2", "avx512f", "pku"])
    static let skylake = HostCPU(vendor: "Intel", model: "Skylake-Server", features: ["avx2", "avx512f"])
    static let milan = HostCPU(vendor: "AMD", model: "EPYC-Milan", features: ["avx2", "sha-ni"])

    static func host(
        _ name: String, gib mem: UInt64, cpus: Int = 32, cpu: HostCPU = icelake, arch: String = "x86_64",
        bridges: [String] = ["br0"], networks: [String] = [], guests: [Guest] = []
    ) -> HostInventory {
        HostInventory(
            name: name, uri: "qemu+ssh://\(name)/system", arch: arch, memoryKiB: mem * gib,
            freeMemoryKiB: mem * gib / 2, cpus: cpus, cpu: cpu, bridges: bridges,
            networks: networks.map { NetworkInfo(name: $0, bridge: nil, active: true) }, guests: guests)
    }

    static func vm(
        _ name: String, gib mem: UInt64, vcpus: Int = 2, state: Guest.State = .running, persistent: Bool = true,
        cpu: GuestCPU = GuestCPU(mode: .hostModel), nics: [GuestNIC] = [GuestNIC(kind: .bridge, source: "br0")],
        disks: [GuestDisk] = [], hostDevices: [String] = []
    ) -> Guest {
        Guest(
            uuid: "uuid-\(name)", name: name, state: state, persistent: persistent, memoryKiB: mem * gib, vcpus: vcpus,
            cpu: cpu, nics: nics, disks: disks, hostDevices: hostDevices)
    }

    static func plan(sources: [String], targets: [String], pools: [String: String] = [:]) -> PlanSpec {
        PlanSpec(
            name: "test",
            hosts: (sources + targets).map { HostSpec(name: $0, uri: "qemu+ssh://\($0)/system", cpuPool: pools[$0]) },
            sources: sources.map { Located($0) },
            targetPools: [TargetPool(name: "all", hosts: targets.map { Located($0) })])
    }

    static func place(
        _ spec: PlanSpec, _ hosts: [HostInventory], unreachable: [UnreachableHost] = [],
        strategy: PlacerOptions.Strategy = .evac
    ) -> PlacementResult {
        Placer.place(
            spec: spec, inventory: Inventory(hosts: hosts, unreachable: unreachable),
            options: PlacerOptions(strategy: strategy))
    }

    /// The rejection of `guest` on `target` (the guest must be unplaceable).
    static func rejection(_ r: PlacementResult, _ guest: String, _ target: String) -> Rejection? {
        r.unplaceable.first { $0.guest == guest }?.candidates.first { $0.target == target }
    }

    static func target(_ r: PlacementResult, _ guest: String) -> String? {
        r.placements.first { $0.guest == guest }?.target
    }
}
