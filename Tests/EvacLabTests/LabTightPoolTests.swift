import Foundation
import XCTest

/// Too little room in the target's pool for a storage copy, on the lab, both halves (issue 15):
/// lab-3's pool `tight` is a 128 MiB tmpfs in lab-3's mount namespace (`scripts/lab pool-tight`),
/// lab-5's is a larger one at the same path, and tight-1's 64 MiB raw disk is in it. libvirt
/// pre-creates a raw copy in full (fallocate), so with the pool filled to 28 MiB free it fails
/// at once, before any data moves; evac refuses the same move at plan time and in the pre-check.
extension LabEndToEndTests {
    func testTooLittleRoomInTheTargetPoolIsRefusedAsLibvirtRefusesIt() throws {
        try Lab.reset()
        let dir = try scratch("tight")
        let state = dir.appendingPathComponent("state")
        Lab.removeEverywhere("tight-1")
        defer { Self.removeTightPool() }
        for (k, mib) in [(3, "128"), (5, "256")] {
            let pool = try Lab.lab(["pool-tight", "\(k)", "tight", mib])
            XCTAssertEqual(pool.status, 0, "\(pool)")
        }
        let guest = try Lab.lab(["guest-disk", "5", "tight-1", "64", "tight"])
        XCTAssertEqual(guest.status, 0, "\(guest)")
        let plan = try Self.copyPlan(in: dir, name: "e2e-tight", targets: [3], include: ["tight-1"])
        let saved = dir.appendingPathComponent("tight.json").path

        // The inventory has each pool's free space and, from libvirt's storage pool
        // capabilities, the formats it creates (disk-format): a dir pool takes raw and qcow2.
        let inventory = try evac(["inventory", plan], state: state)
        XCTAssertEqual(inventory.status, 0, "\(inventory)")
        let tight = try Self.pool("tight", on: "lab-3", inventory.stdout)
        XCTAssertEqual(tight["availableBytes"] as? Int, 128 << 20, "\(tight)")
        let formats = tight["volumeFormats"] as? [String] ?? []
        XCTAssertTrue(formats.contains("raw") && formats.contains("qcow2"), "\(tight)")

        // With 128 MiB free the move fits: planned, and its dry-run passes.
        let placed = try evac(["plan", plan, "--output", "json", "-o", saved], state: state)
        XCTAssertEqual(placed.status, 0, "\(placed)")
        let fits = try evac(["apply", saved, "--dry-run"], state: state)
        XCTAssertEqual(fits.status, 0, "\(fits)")

        // 100 MiB of the pool taken (a fully allocated volume): 28 MiB left for 64.
        let filler = try Lab.run(
            Lab.virsh,
            [
                "-c", Lab.uri(3), "vol-create-as", "tight", "filler.img", "100M", "--allocation", "100M", "--format",
                "raw",
            ])
        XCTAssertEqual(filler.status, 0, "\(filler)")
        let room = "storage pool tight at /var/lib/libvirt/tight has 28.0 MiB free; disk vda needs 64.0 MiB"

        // evac's half, before the window: the saved plan's pre-check blocks it…
        let dry = try evac(["apply", saved, "--dry-run"], state: state)
        XCTAssertEqual(dry.status, 1, "\(dry)")
        XCTAssertTrue(dry.stdout.contains("would be blocked: target lab-3: \(room) (filter storage-copy)"), dry.stdout)
        XCTAssertTrue(dry.stdout.contains("Not everything will move: 1 migration(s) would be blocked"), dry.stdout)
        // …and placement refuses it now.
        let refused = try evac(["plan", plan, "--output", "json"], state: state)
        XCTAssertEqual(refused.status, 1, "\(refused)")
        let why = try Self.unplaceable(refused.stdout)["tight-1"]?.candidates["lab-3"]
        XCTAssertEqual(why?.filter, "storage-copy")
        XCTAssertEqual(why?.reason, room)

        // libvirt's half: the same migration forced fails pre-creating the copy, and the guest
        // stays home with nothing left on lab-3.
        let forced = try Lab.virshMigrate("tight-1", from: 5, to: 3, extra: ["--copy-storage-all"])
        XCTAssertNotEqual(forced.status, 0)
        XCTAssertTrue(
            forced.stderr.contains(
                "cannot allocate 67108864 bytes in file '/var/lib/libvirt/tight/tight-1.img': No space left on device"),
            "\(forced)")
        XCTAssertEqual(Lab.whereIs("tight-1"), [5])

        // The rule: room again, the dry-run passes and the apply copies the disk.
        let freed = try Lab.run(Lab.virsh, ["-c", Lab.uri(3), "vol-delete", "filler.img", "--pool", "tight"])
        XCTAssertEqual(freed.status, 0, "\(freed)")
        let again = try evac(["apply", plan, "--dry-run"], state: state)
        XCTAssertEqual(again.status, 0, "\(again)")
        let apply = try evac(["apply", plan, "--output", "plain"], state: state)
        XCTAssertEqual(apply.status, 0, "\(apply)")
        XCTAssertEqual(Lab.whereIs("tight-1"), [3])
        print(
            "rule| tight-1 (local raw disk 64 MiB, storage copy) → lab-3 (pool with 28 MiB free) | refused: storage-copy (\(room)) | not applied | \(Self.firstLine(forced.stderr))"
        )
    }

    /// Pool `name` of `host` in an inventory snapshot (JSON).
    static func pool(_ name: String, on host: String, _ json: String) throws -> [String: Any] {
        let obj = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let hosts = obj?["hosts"] as? [[String: Any]] ?? []
        let pools = hosts.first { $0["name"] as? String == host }?["storagePools"] as? [[String: Any]] ?? []
        return try XCTUnwrap(pools.first { $0["name"] as? String == name }, "no pool \(name) on \(host) in \(json)")
    }

    static func removeTightPool() {
        Lab.removeEverywhere("tight-1")
        for k in [3, 5] { _ = try? Lab.lab(["pool-tight", "\(k)", "tight", "0"]) }
    }
}
