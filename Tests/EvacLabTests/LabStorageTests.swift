import Foundation
import XCTest

/// Storage copy and snapshots on the lab, both halves (issue 15): evac refuses with its
/// reason, and libvirt itself fails the same migration when forced; a plan whose dry-run
/// passes is applied and the migration succeeds. The guests are made for the test on lab-5
/// (`scripts/lab guest-disk`, `guest-snapshot`): a local raw disk in lab-5's pool `images`
/// (/var/lib/libvirt/images, each host's own directory), and a snapshot. lab-3 has a pool
/// there, lab-4 has none.
extension LabEndToEndTests {
    static let storageGuests = ["disk-1", "snap-1"]

    func testStorageCopyAndSnapshotsAreJudgedAsLibvirtJudgesThem() throws {
        try Lab.reset()
        let dir = try scratch("storage")
        let state = dir.appendingPathComponent("state")
        for g in Self.storageGuests { Lab.removeEverywhere(g) }
        defer { Self.removeStorageGuests() }
        let disk = try Lab.lab(["guest-disk", "5", "disk-1"])
        XCTAssertEqual(disk.status, 0, "\(disk)")
        let snap = try Lab.lab(["guest-snapshot", "5", "snap-1"])
        XCTAssertEqual(snap.status, 0, "\(snap)")
        var rows: [String] = []

        // evac's half: toward lab-4 (no pool at the disk's directory) and with a snapshot.
        let toFour = try Self.copyPlan(in: dir, name: "e2e-copy-4", targets: [4])
        let refused = try evac(["plan", toFour, "--output", "json"], state: state)
        XCTAssertEqual(refused.status, 1, "\(refused)")
        let unplaceable = try Self.unplaceable(refused.stdout)
        let diskWhy = unplaceable["disk-1"]?.candidates["lab-4"]
        XCTAssertEqual(diskWhy?.filter, "storage-copy", "\(unplaceable)")
        XCTAssertTrue(
            diskWhy?.reason.hasPrefix("no storage pool at /var/lib/libvirt/images for disk vda") == true,
            "\(diskWhy as Any)")
        let snapWhy = unplaceable["snap-1"]?.guestReason ?? ""
        XCTAssertTrue(snapWhy.contains("cannot migrate domain with 1 snapshots"), snapWhy)

        // libvirt's half: the same migrations, forced with virsh.
        let forcedDisk = try Lab.virshMigrate("disk-1", from: 5, to: 4, extra: ["--copy-storage-all"])
        XCTAssertNotEqual(forcedDisk.status, 0)
        XCTAssertTrue(
            forcedDisk.stderr.contains("no storage pool with matching target path '/var/lib/libvirt/images'"),
            "\(forcedDisk)")
        let forcedSnap = try Lab.run(
            Lab.virsh,
            ["-c", Lab.uri(5), "migrate", "--live", "--p2p", "--persistent", "--undefinesource", "snap-1", Lab.uri(3)])
        XCTAssertNotEqual(forcedSnap.status, 0)
        XCTAssertTrue(forcedSnap.stderr.contains("cannot migrate domain with 1 snapshots"), "\(forcedSnap)")
        XCTAssertEqual(Lab.whereIs("disk-1"), [5], "the refused migrations left the guests home")
        XCTAssertEqual(Lab.whereIs("snap-1"), [5])
        rows.append(
            "rule| disk-1 (local raw disk, storage copy) → lab-4 (no pool) | refused: \(diskWhy?.filter ?? "?") | not applied | \(Self.firstLine(forcedDisk.stderr))"
        )
        rows.append(
            "rule| snap-1 (1 snapshot) → lab-3 | refused: guest (snapshots) | not applied | \(Self.firstLine(forcedSnap.stderr))"
        )

        // The rule: toward lab-3 (a pool there) the dry-run passes, and the apply succeeds.
        let toThree = try Self.copyPlan(in: dir, name: "e2e-copy-3", targets: [3], include: ["disk-1"])
        let dry = try evac(["apply", toThree, "--dry-run", "--output", "plain"], state: state)
        XCTAssertEqual(dry.status, 0, "\(dry)")
        let apply = try evac(["apply", toThree, "--output", "plain"], state: state)
        XCTAssertEqual(apply.status, 0, "\(apply)")
        XCTAssertEqual(Lab.whereIs("disk-1"), [3])
        XCTAssertEqual(Lab.state("disk-1", on: 3), "running")
        let copied = "\(Lab.dir)/hosts/lab-3/lib/images/disk-1.img"
        let size = (try? FileManager.default.attributesOfItem(atPath: copied)[.size] as? Int) ?? nil
        XCTAssertEqual(size, 32 << 20, "libvirt pre-created the 32 MiB image in lab-3's pool")
        rows.append(
            "rule| disk-1 (local raw disk, storage copy) → lab-3 (pool images) | passes | done | migrated, image pre-created"
        )
        print(rows.joined(separator: "\n"))
    }

    /// A plan over `targets` from lab-5 with storage copy of local disks.
    static func copyPlan(in dir: URL, name: String, targets: [Int], include: [String]? = nil) throws -> String {
        let path = try Lab.writePlan(
            in: dir, name: name, sources: [5], targets: targets, include: include ?? storageGuests)
        let yaml = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(
            of: "constraints: { cpu: compatible, bridges: match }",
            with: "constraints: { cpu: compatible, bridges: match, local-storage: copy }")
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    struct Unplaced {
        var guestReason: String?
        var candidates: [String: (filter: String, reason: String)]
    }

    /// `unplaceable` of `evac plan --output json`, by guest.
    static func unplaceable(_ json: String) throws -> [String: Unplaced] {
        let obj = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        var out: [String: Unplaced] = [:]
        for u in obj?["unplaceable"] as? [[String: Any]] ?? [] {
            var c: [String: (String, String)] = [:]
            for r in u["candidates"] as? [[String: Any]] ?? [] {
                c[r["target"] as? String ?? "?"] = (r["filter"] as? String ?? "?", r["reason"] as? String ?? "?")
            }
            out[u["guest"] as? String ?? "?"] = Unplaced(guestReason: u["guestReason"] as? String, candidates: c)
        }
        return out
    }

    static func firstLine(_ s: String) -> String {
        s.split(separator: "\n").first { !$0.isEmpty }.map(String.init) ?? ""
    }

    /// The guests and the images they left in the hosts' pools.
    static func removeStorageGuests() {
        for g in storageGuests { Lab.removeEverywhere(g) }
        for k in 1...Lab.hosts {
            try? FileManager.default.removeItem(atPath: "\(Lab.dir)/hosts/lab-\(k)/lib/images/disk-1.img")
        }
    }
}
