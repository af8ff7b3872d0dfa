import Testing

@testable import EvacCore

/// The CPU model against the target's domain capabilities, at plan time.
struct CPUModelFilterTests {
    static func target(_ name: String, models: [String]?, hostModel: Bool?) -> HostInventory {
        var h = Fx.host(name, gib: 64)
        h.cpuModels = models
        h.hostModelCPU = hostModel
        return h
    }

    @Test func aCustomModelMustBeKnownOnTheTarget() {
        let guest = Fx.vm("c", gib: 1, cpu: GuestCPU(mode: .custom, model: "Icelake-Server"))
        let source = Fx.host("s", gib: 64, guests: [guest])
        let old = Self.target("old", models: ["Skylake-Server", "qemu64"], hostModel: true)
        let new = Self.target("new", models: ["Icelake-Server", "Skylake-Server", "qemu64"], hostModel: true)
        let r = Fx.place(Fx.plan(sources: ["s"], targets: ["old"]), [source, old])
        #expect(
            Fx.rejection(r, "c", "old")
                == Rejection(
                    target: "old", filter: .cpuModel,
                    reason: "QEMU here does not know CPU model Icelake-Server (domain capabilities)"))
        #expect(
            Fx.target(Fx.place(Fx.plan(sources: ["s"], targets: ["old", "new"]), [source, old, new]), "c") == "new")
        let unchecked = Fx.vm("n", gib: 1, cpu: GuestCPU(mode: .custom, model: "Icelake-Server", check: "none"))
        #expect(
            Fx.target(
                Fx.place(Fx.plan(sources: ["s"], targets: ["old"]), [Fx.host("s", gib: 64, guests: [unchecked]), old]),
                "n") == "old",
            "check='none': libvirt starts the model without comparing it (QEMU drops what is missing)")
        let unknown = Self.target("unknown", models: nil, hostModel: nil)
        #expect(
            Fx.target(Fx.place(Fx.plan(sources: ["s"], targets: ["unknown"]), [source, unknown]), "c") == "unknown",
            "unknown domain capabilities are not judged")
    }

    @Test func aHostModelGuestNeedsAHostModelCPU() {
        let guest = Fx.vm("h", gib: 1, cpu: GuestCPU(mode: .hostModel))
        let source = Fx.host("s", gib: 64, guests: [guest])
        let none = Self.target("none", models: ["qemu64"], hostModel: false)
        let r = Fx.place(Fx.plan(sources: ["s"], targets: ["none"]), [source, none])
        #expect(Fx.rejection(r, "h", "none")?.filter == .cpuModel)
        var ignore = Fx.plan(sources: ["s"], targets: ["none"])
        ignore.constraints.cpu = .ignore
        #expect(Fx.target(Fx.place(ignore, [source, none]), "h") == "none", "constraints.cpu: ignore skips it")
    }
}
