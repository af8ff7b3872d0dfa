import Foundation
import XCTest

/// lab-6 is TCG only (its libvirtd sees no /dev/kvm, issue 15): KVM guests cannot go there.
/// Both halves: evac refuses before anything moves, and libvirt itself fails the same
/// migrations when forced ("Domain requires KVM").
extension LabEndToEndTests {
    func testKVMGuestsAreRefusedForTheTCGOnlyHostAsLibvirtRefusesThem() throws {
        try Lab.reset()
        let dir = try scratch("tcg")
        let state = dir.appendingPathComponent("state")
        Lab.removeEverywhere("hm-1")
        defer { Lab.removeEverywhere("hm-1") }
        let made = try Lab.lab(["guest-host-model", "1", "hm-1"])
        XCTAssertEqual(made.status, 0, "\(made)")

        // The lab's half: lab-6 offers no KVM at all.
        let caps = try Lab.run(Lab.virsh, ["-c", Lab.uri(6), "capabilities"])
        XCTAssertTrue(caps.stdout.contains("<domain type='qemu'/>"), "\(caps)")
        XCTAssertFalse(caps.stdout.contains("<domain type='kvm'"), "lab-6 offers KVM: \(caps)")

        // evac's half, at plan time: both guests are `<domain type='kvm'>` and lab-6 offers
        // qemu only, so `evac plan` itself refuses lab-6 for each by the virt-type filter (before
        // the CPU filters), and the dry run fails with them unplaceable.
        let plan = try Lab.writePlan(in: dir, name: "e2e-tcg", sources: [1], targets: [6], include: ["hm-1", "web-1"])
        let planned = try evac(["plan", plan, "--output", "json"], state: state)
        XCTAssertEqual(planned.status, 1, "\(planned)")
        let unplaceable = try Self.unplaceable(planned.stdout)
        for g in ["hm-1", "web-1"] {
            let why = unplaceable[g]?.candidates["lab-6"]
            XCTAssertEqual(why?.filter, "virt-type", "\(g): \(unplaceable)")
            XCTAssertEqual(
                why?.reason,
                "guest needs domain type kvm; this host offers qemu only (no KVM: /dev/kvm is missing or unusable here)"
            )
        }
        let dry = try evac(["apply", plan, "--dry-run", "--output", "plain"], state: state)
        XCTAssertEqual(dry.status, 1, "\(dry)")
        XCTAssertTrue(dry.stdout.contains("guest needs domain type kvm"), "\(dry)")

        // libvirt's half: both forced, both refused by lab-6.
        for g in ["hm-1", "web-1"] {
            let forced = try Lab.run(
                Lab.virsh,
                ["-c", Lab.uri(1), "migrate", "--live", "--p2p", "--persistent", "--undefinesource", g, Lab.uri(6)])
            XCTAssertNotEqual(forced.status, 0, "\(forced)")
            XCTAssertTrue(forced.stderr.contains("Domain requires KVM, but it is not available"), "\(forced)")
            XCTAssertEqual(Lab.whereIs(g), [1], "\(g) stayed home")
            XCTAssertEqual(Lab.state(g, on: 1), "running", g)
            print(
                "rule| \(g) (KVM guest) → lab-6 (TCG only) | refused | not applied | \(Self.firstLine(forced.stderr))")
        }
    }

    /// The other half of the virt-type filter: a `type='qemu'` (TCG) guest of a KVM host is
    /// placed on lab-6 by `evac plan`, passes the dry run, and migrates there.
    func testATCGGuestIsPlacedOnTheTCGOnlyHostAndMigrates() throws {
        try Lab.reset()
        let dir = try scratch("tcg-guest")
        let state = dir.appendingPathComponent("state")
        Lab.removeEverywhere("tcg-1")
        defer { Lab.removeEverywhere("tcg-1") }
        let made = try Lab.lab(["guest-tcg", "1", "tcg-1"])
        XCTAssertEqual(made.status, 0, "\(made)")
        let xml = try Lab.run(Lab.virsh, ["-c", Lab.uri(1), "dumpxml", "tcg-1"])
        XCTAssertTrue(xml.stdout.contains("<domain type='qemu'"), "\(xml)")

        let plan = try Lab.writePlan(in: dir, name: "e2e-tcg-guest", sources: [1], targets: [6], include: ["tcg-1"])
        let planned = try evac(["plan", plan, "--output", "json"], state: state)
        XCTAssertEqual(planned.status, 0, "\(planned)")
        XCTAssertTrue(try Self.unplaceable(planned.stdout).isEmpty, "\(planned)")
        let dry = try evac(["apply", plan, "--dry-run", "--output", "plain"], state: state)
        XCTAssertEqual(dry.status, 0, "\(dry)")
        let applied = try evac(["apply", plan, "--output", "plain"], state: state)
        XCTAssertEqual(applied.status, 0, "\(applied)")
        XCTAssertEqual(Lab.whereIs("tcg-1"), [6])
        XCTAssertEqual(Lab.state("tcg-1", on: 6), "running")
        print("rule| tcg-1 (domain type qemu) → lab-6 (TCG only) | passes | done | migrated")
    }
}
