import EvacCore

/// Synthetic fleets for benchmarks and property tests: a plan and the inventory it runs
/// against, generated deterministically from a seed.
public enum FleetGenerator {
    public static let gib: UInt64 = 1_048_576 // KiB

    /// Two vendors, three generations each; each generation's features extend the previous
    /// one's, so host-model guests from older hosts fit newer ones of the same vendor.
    static let cpuGenerations: [(vendor: String, models: [String], features: [[String]])] = [
        (
            "Intel", ["Skylake-Server", "Cascadelake-Server", "Icelake-Server"],
            [["aes", "avx", "avx2", "sse4.2", "vmx"], ["avx512f", "avx512bw"], ["avx512vnni", "pku"]]
        ),
        (
            "AMD", ["EPYC-Rome", "EPYC-Milan", "EPYC-Genoa"],
            [["aes", "avx", "avx2", "sse4.2", "svm"], ["sha-ni", "clzero"], ["pku", "vaes"]]
        ),
    ]

    static func cpu(vendor v: Int, generation g: Int) -> HostCPU {
        let c = cpuGenerations[v]
        return HostCPU(vendor: c.vendor, model: c.models[g], features: c.features[0...g].flatMap { $0 })
    }

    static func hostName(_ i: Int) -> String { "kvm-" + pad(i, 5) }

    static func pad(_ i: Int, _ width: Int) -> String {
        let s = String(i)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }

    static func spec(name: String, sources: [String], targets: [String], pools: [String: String] = [:]) -> PlanSpec {
        let hosts = (sources + targets).map { HostSpec(name: $0, uri: "qemu+ssh://\($0)/system", cpuPool: pools[$0]) }
        return PlanSpec(
            name: name, hosts: hosts, sources: sources.map { Located($0) },
            targetPools: [TargetPool(name: "all", hosts: targets.map { Located($0) })])
    }
}
