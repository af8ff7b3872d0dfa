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

        // evac's half: hm-1 (host-model, live CPU Icelake-Server under KVM) is unplaceable there
        // by its CPU; web-1 (kvm, qemu64 unchecked) is refused by the pre-check before each
        // migration, which asks lab-6 to compare a KVM CPU. Either way the dry-run fails.
        let plan = try Lab.writePlan(in: dir, name: "e2e-tcg", sources: [1], targets: [6], include: ["hm-1", "web-1"])
        let planned = try evac(["plan", plan, "--output", "json"], state: state)
        XCTAssertEqual(planned.status, 1, "\(planned)")
        let unplaceable = try Self.unplaceable(planned.stdout)
        let hmWhy = unplaceable["hm-1"]?.candidates["lab-6"]
        XCTAssertTrue(["cpu-model", "cpu-features"].contains(hmWhy?.filter ?? ""), "\(unplaceable)")
        let dry = try evac(["apply", plan, "--dry-run", "--output", "plain"], state: state)
        XCTAssertNotEqual(dry.status, 0, "\(dry)")
        let webRefused =
            unplaceable["web-1"]?.candidates["lab-6"] != nil
            || dry.stdout.contains("the accel 'kvm' is not supported")
        XCTAssertTrue(webRefused, "web-1 is refused for lab-6 before it moves: \(dry)")

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
}
