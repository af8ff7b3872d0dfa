import Foundation
import XCTest

/// What some hosts have and others lack, on the lab, both halves (issue 15): storage several hosts
/// share (`scripts/lab shared-storage`: one directory that lab-1 and lab-3 see at
/// /var/lib/libvirt/gv0, a netfs pool there on each, mounted by libvirt as a GlusterFS FUSE
/// mount; lab-4 has neither) and a libvirt network on some hosts only (`scripts/lab network`:
/// lab-net active on lab-1 and lab-3, defined but inactive on lab-2, absent on lab-4). evac
/// refuses the hosts without them with its reason; libvirt fails the same migration forced; the
/// host that has them passes the dry-run and the apply moves the guest.
extension LabEndToEndTests {
    func testSharedStorageIsPlacedOnlyWhereItIsSeenAsLibvirtRequires() throws {
        try Lab.reset()
        let dir = try scratch("shared")
        let state = dir.appendingPathComponent("state")
        Lab.removeEverywhere("shared-1")
        defer { Self.removeSharedStorage() }
        let made = try Lab.lab(["shared-storage", "gv0", "1,3"])
        XCTAssertEqual(made.status, 0, "\(made)")
        let guest = try Lab.lab(["guest-disk", "1", "shared-1", "32", "gv0"])
        XCTAssertEqual(guest.status, 0, "\(guest)")

        // The inventory (of a plan's hosts): lab-3's gv0 is a shared (netfs) pool at the disk's
        // directory, and the guest's disk is shared.
        let onlyFour = try Lab.writePlan(
            in: dir, name: "e2e-shared-4", sources: [1], targets: [4], include: ["shared-1"])
        let both = try Lab.writePlan(
            in: dir, name: "e2e-shared-34", sources: [1], targets: [3, 4], include: ["shared-1"])
        let inventory = try evac(["inventory", both], state: state)
        XCTAssertEqual(inventory.status, 0, "\(inventory)")
        let pool = try Self.pool("gv0", on: "lab-3", inventory.stdout)
        XCTAssertEqual(pool["type"] as? String, "netfs", "\(pool)")
        XCTAssertEqual(pool["shared"] as? Bool, true, "\(pool)")

        // evac's half: lab-4 does not see the storage (plan time, and the dry-run says so).
        let refused = try evac(["plan", onlyFour, "--output", "json"], state: state)
        XCTAssertEqual(refused.status, 1, "\(refused)")
        let why = try Self.unplaceable(refused.stdout)["shared-1"]?.candidates["lab-4"]
        XCTAssertEqual(why?.filter, "storage", "\(refused.stdout)")
        let reason =
            "no shared pool at /var/lib/libvirt/gv0 (the guest's disks are on shared pool gv0 there on its source)"
        XCTAssertEqual(why?.reason, reason)
        let dry = try evac(["apply", onlyFour, "--dry-run"], state: state)
        XCTAssertEqual(dry.status, 1, "\(dry)")

        // libvirt's half: forced to lab-4 (no storage copy: the disk is shared), the target's QEMU
        // cannot open the disk, and the guest stays home.
        let forced = try Lab.virshMigrate("shared-1", from: 1, to: 4)
        XCTAssertNotEqual(forced.status, 0)
        XCTAssertTrue(
            forced.stderr.contains(
                "Cannot access storage file '/var/lib/libvirt/gv0/shared-1.img': No such file or directory"),
            "\(forced)")
        XCTAssertEqual(Lab.whereIs("shared-1"), [1])

        // The rule: with lab-3 and lab-4 as targets it goes to lab-3 without a storage copy (the
        // one image stays where both hosts see it), the dry-run passes and the apply moves it.
        let placed = try evac(["plan", both, "--output", "json"], state: state)
        XCTAssertEqual(placed.status, 0, "\(placed)")
        let move = try XCTUnwrap(Self.placement(of: "shared-1", placed.stdout), placed.stdout)
        XCTAssertEqual(move["target"] as? String, "lab-3", "\(move)")
        XCTAssertEqual((move["copyStorage"] as? [String]) ?? [], [], "no storage copy: \(move)")
        let passes = try evac(["apply", both, "--dry-run"], state: state)
        XCTAssertEqual(passes.status, 0, "\(passes)")
        let apply = try evac(["apply", both, "--output", "plain"], state: state)
        XCTAssertEqual(apply.status, 0, "\(apply)")
        XCTAssertEqual(Lab.whereIs("shared-1"), [3])
        XCTAssertEqual(Lab.state("shared-1", on: 3), "running")
        let images = try FileManager.default.contentsOfDirectory(atPath: "\(Lab.dir)/shared/gv0")
        XCTAssertEqual(images, ["shared-1.img"], "one image, not copied")
        print(
            "rule| shared-1 (disk on shared storage gv0) → lab-4 (does not see it) | refused: storage (\(reason)) | not applied | \(Self.firstLine(forced.stderr))"
        )
    }

    func testNetworkOnSomeHostsOnlyIsJudgedAsLibvirtJudgesIt() throws {
        try Lab.reset()
        let dir = try scratch("network")
        let state = dir.appendingPathComponent("state")
        Lab.removeEverywhere("net-1")
        defer { Self.removeLabNetwork() }
        let made = try Lab.lab(["network", "lab-net", "1,3", "2"])
        XCTAssertEqual(made.status, 0, "\(made)")
        let guest = try Lab.lab(["guest-network", "1", "net-1", "lab-net"])
        XCTAssertEqual(guest.status, 0, "\(guest)")

        // evac's half: lab-2 has the network inactive (defect 6), lab-4 has none. (Before the
        // NIC's live XML was read right, evac took it for a NIC on bridge nb-lab-net, which lab-2
        // has, and placed it there.)
        let without = try Lab.writePlan(
            in: dir, name: "e2e-net-24", sources: [1], targets: [2, 4], include: ["net-1"])
        let refused = try evac(["plan", without, "--output", "json"], state: state)
        XCTAssertEqual(refused.status, 1, "\(refused)")
        let why = try Self.unplaceable(refused.stdout)["net-1"]?.candidates ?? [:]
        XCTAssertEqual(why["lab-2"]?.filter, "bridge", "\(why)")
        XCTAssertEqual(why["lab-2"]?.reason, "network lab-net inactive")
        XCTAssertEqual(why["lab-4"]?.filter, "bridge", "\(why)")
        XCTAssertEqual(why["lab-4"]?.reason, "network lab-net missing")

        // libvirt's half, for each.
        let toFour = try Lab.virshMigrate("net-1", from: 1, to: 4)
        XCTAssertNotEqual(toFour.status, 0)
        XCTAssertTrue(toFour.stderr.contains("no network with matching name 'lab-net'"), "\(toFour)")
        let toTwo = try Lab.virshMigrate("net-1", from: 1, to: 2)
        XCTAssertNotEqual(toTwo.status, 0)
        XCTAssertTrue(toTwo.stderr.contains("network 'lab-net' is not active"), "\(toTwo)")
        XCTAssertEqual(Lab.whereIs("net-1"), [1])

        // Placed on lab-3. While lab-3's network is stopped the dry-run refuses it there too
        // (nothing else can take it), and passes again once it runs; the apply moves it.
        let with = try Lab.writePlan(
            in: dir, name: "e2e-net-234", sources: [1], targets: [2, 3, 4], include: ["net-1"])
        let placed = try evac(["plan", with, "--output", "json"], state: state)
        XCTAssertEqual(placed.status, 0, "\(placed)")
        XCTAssertEqual(try Self.placement(of: "net-1", placed.stdout)?["target"] as? String, "lab-3")
        let stop = try Lab.run(Lab.virsh, ["-c", Lab.uri(3), "net-destroy", "lab-net"])
        XCTAssertEqual(stop.status, 0, "\(stop)")
        let blocked = try evac(["apply", with, "--dry-run", "--output", "plain"], state: state)
        XCTAssertEqual(blocked.status, 1, "\(blocked)")
        XCTAssertTrue(blocked.stdout.contains("lab-3: network lab-net inactive"), blocked.stdout)
        let start = try Lab.run(Lab.virsh, ["-c", Lab.uri(3), "net-start", "lab-net"])
        XCTAssertEqual(start.status, 0, "\(start)")
        let passes = try evac(["apply", with, "--dry-run"], state: state)
        XCTAssertEqual(passes.status, 0, "\(passes)")
        let apply = try evac(["apply", with, "--output", "plain"], state: state)
        XCTAssertEqual(apply.status, 0, "\(apply)")
        XCTAssertEqual(Lab.whereIs("net-1"), [3])
        XCTAssertEqual(Lab.state("net-1", on: 3), "running")
        print(
            """
            rule| net-1 (NIC on network lab-net) → lab-4 (no such network) | refused: bridge (network lab-net missing) | not applied | \(Self.firstLine(toFour.stderr))
            rule| net-1 (NIC on network lab-net) → lab-2 (lab-net inactive) | refused: bridge (network lab-net inactive) | not applied | \(Self.firstLine(toTwo.stderr))
            """
        )
    }

    /// The placement of `guest` in `evac plan --output json` (the first object that names it
    /// with a target), wherever the plan nests it.
    static func placement(of guest: String, _ json: String) throws -> [String: Any]? {
        func find(_ v: Any) -> [String: Any]? {
            if let d = v as? [String: Any] {
                if d["guest"] as? String == guest, d["target"] is String { return d }
                for x in d.values { if let f = find(x) { return f } }
            }
            if let a = v as? [Any] { for x in a { if let f = find(x) { return f } } }
            return nil
        }
        return find(try JSONSerialization.jsonObject(with: Data(json.utf8)))
    }

    static func removeSharedStorage() {
        Lab.removeEverywhere("shared-1")
        _ = try? Lab.lab(["shared-storage", "gv0", "none"])
    }

    static func removeLabNetwork() {
        Lab.removeEverywhere("net-1")
        _ = try? Lab.lab(["network", "lab-net", "none"])
    }
}
