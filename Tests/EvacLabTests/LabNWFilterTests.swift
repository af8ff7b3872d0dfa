import Foundation
import XCTest

/// A network filter on some hosts only, on the lab, both halves (issue 15): `scripts/lab nwfilter`
/// defines lab-nwf (a small rule set) on lab-1 and lab-3; the libvirt network fnet is active on
/// lab-1, lab-3 and lab-4, so only the filter tells lab-3 from lab-4. nwf-1's NIC on fnet has
/// `<filterref filter='lab-nwf'/>`. evac refuses lab-4 (filter nwfilter) at plan time, libvirt
/// fails the same migration forced; a saved plan's dry-run is blocked when lab-3's filter is
/// removed after planning, passes once it is back, and the apply moves the guest.
extension LabEndToEndTests {
    func testNWFilterOnSomeHostsOnlyIsJudgedAsLibvirtJudgesIt() throws {
        try Lab.reset()
        let dir = try scratch("nwfilter")
        let state = dir.appendingPathComponent("state")
        Lab.removeEverywhere("nwf-1")
        defer { Self.removeLabNWFilter() }
        for args in [
            ["network", "fnet", "1,3,4"], ["nwfilter", "lab-nwf", "1,3"],
            ["guest-network", "1", "nwf-1", "fnet", "lab-nwf"],
        ] {
            let made = try Lab.lab(args)
            XCTAssertEqual(made.status, 0, "\(made)")
        }
        // libvirt applied the filter on lab-1 (ebtables in lab-1's network namespace).
        XCTAssertTrue(try Self.ebtablesNAT(1).contains("-p IPv6 -j DROP"))

        // evac's half: lab-4 has the network but not the filter.
        let toFour = try Lab.writePlan(in: dir, name: "e2e-nwf-4", sources: [1], targets: [4], include: ["nwf-1"])
        let refused = try evac(["plan", toFour, "--output", "json"], state: state)
        XCTAssertEqual(refused.status, 1, "\(refused)")
        let why = try Self.unplaceable(refused.stdout)["nwf-1"]?.candidates["lab-4"]
        XCTAssertEqual(why?.filter, "nwfilter", "\(refused.stdout)")
        XCTAssertEqual(why?.reason, "network filter lab-nwf missing")

        // libvirt's half: forced to lab-4, the target refuses before anything moves.
        let forced = try Lab.virshMigrate("nwf-1", from: 1, to: 4)
        XCTAssertNotEqual(forced.status, 0)
        XCTAssertTrue(forced.stderr.contains("referenced filter 'lab-nwf' is missing"), "\(forced)")
        XCTAssertEqual(Lab.whereIs("nwf-1"), [1])

        // Planned onto lab-3 and saved; the filter then removed from lab-3 (no guest there uses
        // it, so libvirt lets it go): the saved plan's pre-check blocks the move.
        let both = try Lab.writePlan(in: dir, name: "e2e-nwf-34", sources: [1], targets: [3, 4], include: ["nwf-1"])
        let saved = dir.appendingPathComponent("nwf.json").path
        let placed = try evac(["plan", both, "--output", "json"], state: state)
        XCTAssertEqual(placed.status, 0, "\(placed)")
        XCTAssertEqual(try Self.placement(of: "nwf-1", placed.stdout)?["target"] as? String, "lab-3")
        let save = try evac(["plan", both, "--output", "json", "-o", saved], state: state)
        XCTAssertEqual(save.status, 0, "\(save)")
        let gone = try Lab.run(Lab.virsh, ["-c", Lab.uri(3), "nwfilter-undefine", "lab-nwf"])
        XCTAssertEqual(gone.status, 0, "\(gone)")
        let blocked = try evac(["apply", saved, "--dry-run", "--output", "plain"], state: state)
        XCTAssertEqual(blocked.status, 1, "\(blocked)")
        XCTAssertTrue(
            blocked.stdout.contains("lab-3: network filter lab-nwf missing (filter nwfilter)"), blocked.stdout)

        // The rule: the filter back on lab-3, the dry-run passes and the apply moves the guest,
        // whose filter libvirt applies on lab-3.
        let back = try Lab.lab(["nwfilter", "lab-nwf", "3"])
        XCTAssertEqual(back.status, 0, "\(back)")
        let passes = try evac(["apply", saved, "--dry-run"], state: state)
        XCTAssertEqual(passes.status, 0, "\(passes)")
        let apply = try evac(["apply", saved, "--output", "plain"], state: state)
        XCTAssertEqual(apply.status, 0, "\(apply)")
        XCTAssertEqual(Lab.whereIs("nwf-1"), [3])
        XCTAssertEqual(Lab.state("nwf-1", on: 3), "running")
        XCTAssertTrue(try Self.ebtablesNAT(3).contains("-p IPv6 -j DROP"))
        print(
            "rule| nwf-1 (NIC with nwfilter lab-nwf) → lab-4 (no such filter) | refused: nwfilter (network filter lab-nwf missing) | not applied | \(Self.firstLine(forced.stderr))"
        )
    }

    /// `ebtables -t nat -L` in lab-K's network namespace.
    static func ebtablesNAT(_ k: Int) throws -> String {
        try Lab.run("/usr/sbin/ip", ["netns", "exec", "evac-lab-\(k)", "/usr/sbin/ebtables", "-t", "nat", "-L"]).stdout
    }

    static func removeLabNWFilter() {
        Lab.removeEverywhere("nwf-1")
        _ = try? Lab.lab(["nwfilter", "lab-nwf", "none"])
        _ = try? Lab.lab(["network", "fnet", "none"])
    }
}
