import Testing

@testable import EvacCore

/// The guest's domain type against what the target offers (issue 15): a `type='kvm'` guest is
/// refused a TCG-only host at plan time, as libvirt refuses it ("Domain requires KVM, but it is
/// not available"); the CPU model is judged against the target's offer for the guest's type.
struct VirtTypeFilterTests {
    static func guest(
        _ name: String, _ type: String?, cpu: GuestCPU = GuestCPU(mode: .custom, model: "qemu64")
    ) -> Guest {
        var g = Fx.vm(name, gib: 1, cpu: cpu)
        g.virtType = type
        return g
    }

    static func kvmHost(_ name: String, guests: [Guest] = []) -> HostInventory {
        var h = Fx.host(name, gib: 64, guests: guests)
        h.virtTypes = [
            VirtTypeOffer(type: "kvm", cpuModels: ["Icelake-Server", "qemu64"], hostModelCPU: true),
            VirtTypeOffer(type: "qemu", cpuModels: ["EPYC", "qemu64"], hostModelCPU: true),
        ]
        return h
    }

    /// As lab-6: its capabilities list only `<domain type='qemu'/>`.
    static func tcgHost(_ name: String) -> HostInventory {
        var h = Fx.host(name, gib: 64)
        h.cpuModels = ["EPYC", "qemu64"]
        h.hostModelCPU = true
        h.virtTypes = [VirtTypeOffer(type: "qemu", cpuModels: ["EPYC", "qemu64"], hostModelCPU: true)]
        return h
    }

    @Test func aKVMGuestIsRefusedATCGOnlyHostAndATCGGuestIsNot() {
        let source = Self.kvmHost("s", guests: [Self.guest("k", "kvm"), Self.guest("q", "qemu")])
        let r = Fx.place(Fx.plan(sources: ["s"], targets: ["tcg"]), [source, Self.tcgHost("tcg")])
        #expect(
            Fx.rejection(r, "k", "tcg")
                == Rejection(
                    target: "tcg", filter: .virtType,
                    reason:
                        "guest needs domain type kvm; this host offers qemu only (no KVM: /dev/kvm is missing or unusable here)"
                ))
        #expect(Fx.target(r, "q") == "tcg")
        // Another target with KVM takes the KVM guest.
        let both = Fx.place(
            Fx.plan(sources: ["s"], targets: ["tcg", "kvm"]), [source, Self.tcgHost("tcg"), Self.kvmHost("kvm")])
        #expect(Fx.target(both, "k") == "kvm")
    }

    @Test func unknownTypesAreNotJudged() {
        // An inventory written before domain types were read: neither side known.
        var old = Self.tcgHost("tcg")
        old.virtTypes = nil
        let source = Self.kvmHost("s", guests: [Self.guest("k", "kvm"), Self.guest("u", nil)])
        let r = Fx.place(Fx.plan(sources: ["s"], targets: ["tcg"]), [source, old])
        #expect(Fx.target(r, "k") == "tcg", "the target's types are unknown")
        let r2 = Fx.place(Fx.plan(sources: ["s"], targets: ["tcg"]), [source, Self.tcgHost("tcg")])
        #expect(Fx.target(r2, "u") == "tcg", "the guest's type is unknown")
    }

    @Test func theVirtTypeIsJudgedRightAfterTheArch() throws {
        let order = PlacementFilter.allCases
        let arch = try #require(order.firstIndex(of: .arch))
        #expect(order[arch + 1] == .virtType)
        // A guest of another arch is refused for its arch first.
        var arm = Self.tcgHost("arm")
        arm.arch = "aarch64"
        let source = Self.kvmHost("s", guests: [Self.guest("k", "kvm")])
        #expect(
            Fx.rejection(Fx.place(Fx.plan(sources: ["s"], targets: ["arm"]), [source, arm]), "k", "arm")?.filter
                == .arch)
    }

    @Test func theCPUModelIsJudgedAgainstTheOfferForTheGuestsType() {
        // The target knows Icelake-Server under KVM only; a TCG guest of that model is refused,
        // a KVM one is not. The default offer (top level) is KVM's.
        var t = Self.kvmHost("t")
        t.cpuModels = ["Icelake-Server", "qemu64"]
        t.hostModelCPU = true
        let cpu = GuestCPU(mode: .custom, model: "Icelake-Server")
        let source = Self.kvmHost("s", guests: [Self.guest("k", "kvm", cpu: cpu), Self.guest("q", "qemu", cpu: cpu)])
        let r = Fx.place(Fx.plan(sources: ["s"], targets: ["t"]), [source, t])
        #expect(Fx.target(r, "k") == "t")
        #expect(
            Fx.rejection(r, "q", "t")
                == Rejection(
                    target: "t", filter: .cpuModel,
                    reason: "QEMU here does not know CPU model Icelake-Server (domain capabilities)"))
        // A host-model guest against a type whose QEMU has no host-model CPU.
        var noHostModel = Self.kvmHost("n")
        noHostModel.virtTypes = [
            VirtTypeOffer(type: "kvm", cpuModels: ["qemu64"], hostModelCPU: true),
            VirtTypeOffer(type: "qemu", cpuModels: ["qemu64"], hostModelCPU: false),
        ]
        let hm = Self.kvmHost("s", guests: [Self.guest("h", "qemu", cpu: GuestCPU(mode: .hostModel))])
        #expect(
            Fx.rejection(Fx.place(Fx.plan(sources: ["s"], targets: ["n"]), [hm, noHostModel]), "h", "n")?.filter
                == .cpuModel)
    }

    @Test func machineTypesAreThoseOfTheGuestsType() {
        var t = Self.kvmHost("t")
        t.virtTypes = [
            VirtTypeOffer(type: "kvm", machineTypes: ["pc-q35-7.2"]),
            VirtTypeOffer(type: "qemu", machineTypes: ["pc-i440fx-7.2"]),
        ]
        var g = Self.guest("q", "qemu")
        g.machine = "pc-q35-7.2"
        let r = Fx.place(Fx.plan(sources: ["s"], targets: ["t"]), [Self.kvmHost("s", guests: [g]), t])
        #expect(Fx.rejection(r, "q", "t")?.filter == .machine)
    }

    @Test func theLivePreCheckRefusesTheSameWay() {
        let r = LiveFilters.rejection(
            guest: Self.guest("k", "kvm"), sourcePools: [], sourceHypervisorVersion: nil, target: Self.tcgHost("tcg"),
            bridges: .match, bridgeMap: [:])
        #expect(r?.filter == .virtType)
        #expect(r?.reason.hasPrefix("guest needs domain type kvm; this host offers qemu only") == true)
        let q = LiveFilters.rejection(
            guest: Self.guest("q", "qemu"), sourcePools: [], sourceHypervisorVersion: nil, target: Self.tcgHost("tcg"),
            bridges: .match, bridgeMap: [:])
        #expect(q == nil)
    }
}
