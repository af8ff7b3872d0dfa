import Foundation
import XCTest

/// Devices that cannot migrate, on the lab, both halves (issue 15): a guest with a virtiofs
/// filesystem passthrough (`scripts/lab guest-device 1 vfs-1 virtiofs`: virtiofsd serves a
/// host directory, the guest's memory is shared) is refused by evac at plan time, and libvirt
/// refuses the same migration forced, naming the device QEMU cannot migrate.
extension LabEndToEndTests {
    func testVirtiofsPassthroughIsRefusedAsLibvirtRefusesIt() throws {
        try Lab.reset()
        let dir = try scratch("device")
        let state = dir.appendingPathComponent("state")
        Lab.removeEverywhere("vfs-1")
        defer { Lab.removeEverywhere("vfs-1") }
        let made = try Lab.lab(["guest-device", "1", "vfs-1", "virtiofs"])
        XCTAssertEqual(made.status, 0, "\(made)")
        let plan = try Lab.writePlan(in: dir, name: "e2e-virtiofs", sources: [1], targets: [3], include: ["vfs-1"])

        // evac's half: the guest's own reason, and the dry-run says it stays.
        let refused = try evac(["plan", plan, "--output", "json"], state: state)
        XCTAssertEqual(refused.status, 1, "\(refused)")
        let why = try Self.unplaceable(refused.stdout)["vfs-1"]?.guestReason ?? ""
        XCTAssertTrue(why.hasPrefix("has filesystem passthrough "), why)
        XCTAssertTrue(why.contains("(virtiofs), which libvirt refuses to migrate"), why)
        let dry = try evac(["apply", plan, "--dry-run"], state: state)
        XCTAssertEqual(dry.status, 1, "\(dry)")
        XCTAssertTrue(dry.stdout.contains("Not everything will move: 1 guest(s) unplaceable"), dry.stdout)

        // libvirt's half.
        let forced = try Lab.run(
            Lab.virsh,
            ["-c", Lab.uri(1), "migrate", "--live", "--p2p", "--persistent", "--undefinesource", "vfs-1", Lab.uri(3)])
        XCTAssertNotEqual(forced.status, 0)
        XCTAssertTrue(forced.stderr.contains("cannot migrate domain: non-migratable device:"), "\(forced)")
        XCTAssertTrue(forced.stderr.contains("vhost-user-fs"), "\(forced)")
        XCTAssertEqual(Lab.whereIs("vfs-1"), [1])
        print(
            "rule| vfs-1 (virtiofs passthrough) → lab-3 | refused: guest (filesystem passthrough) | not applied | \(Self.firstLine(forced.stderr))"
        )
    }
}
