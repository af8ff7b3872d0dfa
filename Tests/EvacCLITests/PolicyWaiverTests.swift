import EvacYAML
import Foundation
import Testing

@testable import EvacCore

/// evac's own refusals, which libvirt would not make (issue 15): each is labelled as evac's
/// policy in every output, and `constraints.allow` waives it by name (read at FILE:LINE:COL,
/// sealed with the plan, honoured by placement and by the pre-check).
@Suite struct PolicyWaiverTests {
    static let base = """
        version: 1
        name: w
        hosts: { a: "qemu:///system", b: "qemu:///system" }
        sources: [a]
        targets: [ { pool: p, hosts: [b] } ]

        """

    func read(_ more: String) throws -> (PlanSpec?, [Diagnostic]) {
        let root = try YAMLReader.parse(SourceFile(path: "w.yaml", text: Self.base + more)).get()
        return PlanReader.read(root, file: "w.yaml")
    }

    @Test func allowIsReadSortedAndBadNamesAreRefusedWithTheClosest() throws {
        let (spec, d) = try read("constraints: { allow: [user-mode-nic, shut-off-memory, unmounted-9p] }\n")
        #expect(d.isEmpty, "\(d)")
        #expect(spec?.constraints.allow == [.shutOffMemory, .unmounted9p, .userModeNIC])
        #expect(try read("").0?.constraints.allow == [], "nothing waived by default")

        let (bad, found) = try read("constraints:\n  allow: [user-mode-nics]\n")
        #expect(bad == nil)
        let e = try #require(found.first { $0.severity == .error })
        #expect((e.mark.line, e.mark.column) == (7, 11), "\(e)")
        #expect(e.message == "'user-mode-nics' is not a valid policy to allow")
        #expect(e.help?.hasPrefix("did you mean 'user-mode-nic'?") == true, "\(e)")

        let (_, twice) = try read("constraints: { allow: [unmounted-9p, unmounted-9p] }\n")
        #expect(twice.contains { $0.severity == .warning && $0.message == "'unmounted-9p' is allowed twice" })
        let (one, _) = try read("constraints: { allow: user-mode-nic }\n")
        #expect(one?.constraints.allow == [.userModeNIC], "one name may stand for a list of one")
    }

    static func spec(allow: [PolicyWaiver]) -> PlanSpec {
        var s = PlanSpec(
            name: "w", hosts: [HostSpec(name: "a", uri: "qemu:///a"), HostSpec(name: "b", uri: "qemu:///b")],
            sources: [Located("a")], targetPools: [TargetPool(name: "p", hosts: [Located("b")])])
        s.select.stopped = .moveDefinition
        s.constraints.allow = allow
        return s
    }

    static let gib: UInt64 = 1_048_576
    static func host(_ name: String, gib mem: UInt64, guests: [Guest] = []) -> HostInventory {
        HostInventory(
            name: name, uri: "qemu:///\(name)", memoryKiB: mem * gib, cpus: 8,
            cpu: HostCPU(vendor: "Intel", model: "m", features: []), guests: guests)
    }
    static func guest(_ name: String, gib mem: UInt64 = 1, state: Guest.State = .running) -> Guest {
        Guest(uuid: "u-\(name)", name: name, state: state, memoryKiB: mem * gib, vcpus: 1, cpu: GuestCPU(mode: .none))
    }

    @Test func aUserModeNICAndAn9pExportAreLabelledAndWaivable() throws {
        var nat = Self.guest("nat")
        nat.nics = [GuestNIC(kind: .user, source: "")]
        var fs9p = Self.guest("fs9p")
        fs9p.filesystems = ["/srv → share0 (9p)"]
        var vfs = Self.guest("vfs")
        vfs.filesystems = ["/srv → share0 (virtiofs)"]
        let hosts = [Self.host("a", gib: 64, guests: [nat, fs9p, vfs]), Self.host("b", gib: 64)]
        let refused = Placer.place(spec: Self.spec(allow: []), inventory: Inventory(hosts: hosts))
        func u(_ g: String, _ r: PlacementResult) -> Unplaceable? { r.unplaceable.first { $0.guest == g } }
        #expect(u("nat", refused)?.guestPolicy == .userModeNIC)
        #expect(
            u("nat", refused)?.guestReason?.hasSuffix(
                "(evac policy; waive with constraints.allow: [user-mode-nic])") == true)
        #expect(u("fs9p", refused)?.guestPolicy == .unmounted9p)
        #expect(u("fs9p", refused)?.guestReason?.hasSuffix("[unmounted-9p])") == true)
        #expect(u("vfs", refused)?.guestPolicy == nil, "virtiofs: libvirt's own refusal")
        #expect(u("vfs", refused)?.guestReason?.contains("evac policy") == false)

        let waived = Placer.place(
            spec: Self.spec(allow: [.userModeNIC, .unmounted9p]), inventory: Inventory(hosts: hosts))
        #expect(Set(waived.placements.map(\.guest)) == ["nat", "fs9p"])
        #expect(u("vfs", waived) != nil, "no waiver for what libvirt refuses")
        // Only the named policy is waived.
        let one = Placer.place(spec: Self.spec(allow: [.userModeNIC]), inventory: Inventory(hosts: hosts))
        #expect(one.placements.map(\.guest) == ["nat"])
        // A guest with a waived NIC and a device libvirt refuses is still refused, for the device.
        var both = Self.guest("both")
        both.nics = nat.nics
        both.hostDevices = ["pci:0000:01:00.0"]
        let r = Placer.place(
            spec: Self.spec(allow: [.userModeNIC]),
            inventory: Inventory(hosts: [Self.host("a", gib: 64, guests: [both]), Self.host("b", gib: 64)]))
        #expect(u("both", r)?.guestReason?.hasPrefix("has host device") == true)
    }

    @Test func aShutOffGuestTooBigForTheTargetIsLabelledAndWaivable() throws {
        let big = Self.guest("big", gib: 16, state: .shutoff)
        let small = Self.guest("small", gib: 6)
        let hosts = [Self.host("a", gib: 64, guests: [big, small]), Self.host("b", gib: 8)]
        let refused = Placer.place(spec: Self.spec(allow: []), inventory: Inventory(hosts: hosts))
        let why = try #require(refused.unplaceable.first { $0.guest == "big" }?.candidates.first)
        #expect(why.filter == .memory)
        #expect(why.policy == .shutOffMemory)
        #expect(why.reason.hasSuffix("(evac policy; waive with constraints.allow: [shut-off-memory])"), "\(why)")
        // A running guest's memory refusal is not a policy one.
        let running = Placer.place(
            spec: Self.spec(allow: [.shutOffMemory]),
            inventory: Inventory(hosts: [
                Self.host("a", gib: 64, guests: [Self.guest("r", gib: 16)]), Self.host("b", gib: 8),
            ]))
        #expect(running.unplaceable.first?.candidates.first?.policy == nil)

        // Waived: the definition is placed, and takes none of the target's room.
        let waived = Placer.place(spec: Self.spec(allow: [.shutOffMemory]), inventory: Inventory(hosts: hosts))
        #expect(Set(waived.placements.map(\.guest)) == ["big", "small"], "\(waived.unplaceable)")
    }

    @Test func thePlanFileSealsTheWaiverAndOldPlansKeepTheirBytes() throws {
        let none = TargetConstraints(Self.spec(allow: []).constraints)
        #expect(none.allow == nil)
        let text = String(decoding: PlanFile.canonicalBytes(none), as: UTF8.self)
        #expect(!text.contains("allow"), "absent when nothing is waived: \(text)")
        let some = TargetConstraints(Self.spec(allow: [.userModeNIC]).constraints)
        #expect(some.allows(.userModeNIC) && !some.allows(.unmounted9p))
        #expect(String(decoding: PlanFile.canonicalBytes(some), as: UTF8.self).contains("user-mode-nic"))
        #expect(try JSONDecoder().decode(TargetConstraints.self, from: PlanFile.canonicalBytes(some)) == some)
    }

    /// The schemas list exactly the policies evac knows, as the filter ids are kept equal.
    @Test func theSchemasListEveryPolicy() throws {
        let listed = "\"enum\": [" + PolicyWaiver.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ") + "]"
        let plan = try String(contentsOfFile: Repo.path("schemas/plan.schema.json"), encoding: .utf8)
        let file = try String(contentsOfFile: Repo.path("schemas/planfile.schema.json"), encoding: .utf8)
        #expect(plan.components(separatedBy: listed).count - 1 == 1)
        // constraints.allow, a rejection's policy, an unplaceable guest's policy.
        #expect(file.components(separatedBy: listed).count - 1 == 3)
    }
}
