import Foundation
import XCTest

/// qcow2 disks moved by storage copy, on the lab, both halves (issue 15). The guests are made on
/// lab-5 (`scripts/lab guest-qcow2`): q-1's 64 MiB qcow2 image holds 8 MiB; qc-1's top image
/// (1 MiB) has a backing file with 8 MiB, both local in lab-5's pool images; qtight-1's image, like
/// q-1's, is in lab-5's pool qtight. libvirt pre-creates each copy with `qemu-img create -o
/// preallocation=falloc`, allocated in full whatever the source holds, and a full copy
/// (VIR_MIGRATE_NON_SHARED_DISK) flattens a chain into it. evac counted a qcow2 copy at the
/// source's allocation (8 MiB) and passed the dry-run for a 32 MiB pool that libvirt then failed.
extension LabEndToEndTests {
    static let qcow2Guests = ["q-1", "qc-1", "qtight-1"]
    /// qemu-img's fully allocated size of a 64 MiB qcow2 image (`qemu-img measure`).
    static let qcow2Full64MiB = 67_436_544

    func testQcow2CopiesArePreallocatedInFullAndChainsFlattenedAsLibvirtDoes() throws {
        try Lab.reset()
        let dir = try scratch("qcow2")
        let state = dir.appendingPathComponent("state")
        for g in Self.qcow2Guests { Lab.removeEverywhere(g) }
        defer { Self.removeQcow2Guests() }
        for args in [
            ["guest-qcow2", "5", "q-1", "64", "8"], ["guest-qcow2", "5", "qc-1", "64", "8", "images", "images"],
            ["pool-tight", "3", "qtight", "32"], ["pool-tight", "5", "qtight", "256"],
            ["guest-qcow2", "5", "qtight-1", "64", "8", "qtight"],
        ] {
            let made = try Lab.lab(args)
            XCTAssertEqual(made.status, 0, "\(made)")
        }
        let chain = try Lab.run(Lab.virsh, ["-c", Lab.uri(5), "dumpxml", "qc-1"])
        XCTAssertTrue(chain.stdout.contains("/var/lib/libvirt/images/qc-1-base.qcow2"), "a chain: \(chain.stdout)")

        // evac's half: 8 MiB written, but the copy takes 64.3 MiB of lab-3's 32 MiB pool.
        let tight = try Self.copyPlan(in: dir, name: "e2e-qcow2-tight", targets: [3], include: ["qtight-1"])
        let refused = try evac(["plan", tight, "--output", "json"], state: state)
        XCTAssertEqual(refused.status, 1, "\(refused)")
        let why = try Self.unplaceable(refused.stdout)["qtight-1"]?.candidates["lab-3"]
        XCTAssertEqual(why?.filter, "storage-copy", "\(refused.stdout)")
        let room = "storage pool qtight at /var/lib/libvirt/qtight has 32.0 MiB free; disk vda needs 64.3 MiB"
        XCTAssertEqual(why?.reason, room)

        // libvirt's half: forced, the pre-creation fails and the guest stays home.
        let forced = try Lab.virshMigrate("qtight-1", from: 5, to: 3, extra: ["--copy-storage-all"])
        XCTAssertNotEqual(forced.status, 0)
        XCTAssertTrue(
            forced.stderr.contains("preallocation=falloc") && forced.stderr.contains("No space left on device"),
            "\(forced)")
        XCTAssertEqual(Lab.whereIs("qtight-1"), [5])

        // The rule: into lab-3's pool images both pass the dry-run and move. Each copy is the
        // fully allocated size evac counted, and qc-1's is flat (no backing file) and holds the
        // backing file's data.
        let toThree = try Self.copyPlan(in: dir, name: "e2e-qcow2-3", targets: [3], include: ["q-1", "qc-1"])
        let dry = try evac(["apply", toThree, "--dry-run", "--output", "plain"], state: state)
        XCTAssertEqual(dry.status, 0, "\(dry)")
        let apply = try evac(["apply", toThree, "--output", "plain"], state: state)
        XCTAssertEqual(apply.status, 0, "\(apply)")
        for g in ["q-1", "qc-1"] {
            XCTAssertEqual(Lab.whereIs(g), [3], g)
            XCTAssertEqual(Lab.state(g, on: 3), "running", g)
            let image = "\(Lab.dir)/hosts/lab-3/lib/images/\(g).qcow2"
            let size = (try? FileManager.default.attributesOfItem(atPath: image)[.size] as? Int) ?? nil
            XCTAssertEqual(size, Self.qcow2Full64MiB, "\(g): pre-created in full")
            let info = try Lab.run("/usr/bin/qemu-img", ["info", "-U", "--output", "json", image])
            XCTAssertEqual(info.status, 0, "\(info)")
            XCTAssertFalse(info.stdout.contains("backing-filename"), "\(g): flat: \(info.stdout)")
            let read = try Lab.run("/usr/bin/qemu-io", ["-r", "-U", "-f", "qcow2", "-c", "read -P 0x5a 0 8M", image])
            XCTAssertTrue(read.stdout.contains("read 8388608/8388608 bytes"), "\(g): \(read)")
            XCTAssertFalse(read.stdout.contains("Pattern verification failed"), "\(g): \(read)")
        }
        let moved = try Lab.run(Lab.virsh, ["-c", Lab.uri(3), "dumpxml", "qc-1"])
        XCTAssertFalse(moved.stdout.contains("qc-1-base"), "the target's chain is the top image only: \(moved.stdout)")
        print(
            """
            rule| qtight-1 (local qcow2 64 MiB, 8 MiB in it) → lab-3 (pool with 32 MiB free) | refused: storage-copy (\(room)) | not applied | \(Self.firstLine(forced.stderr))
            rule| q-1, qc-1 (local qcow2; qc-1 over a local backing file) → lab-3 (pool images) | passes | done | migrated; copies \(Self.qcow2Full64MiB) bytes each, qc-1's flattened
            """
        )
    }

    static func removeQcow2Guests() {
        for g in qcow2Guests { Lab.removeEverywhere(g) }
        for k in 1...Lab.hosts {
            for f in ["q-1.qcow2", "qc-1.qcow2", "qc-1-base.qcow2"] {
                try? FileManager.default.removeItem(atPath: "\(Lab.dir)/hosts/lab-\(k)/lib/images/\(f)")
            }
        }
        for k in [3, 5] { _ = try? Lab.lab(["pool-tight", "\(k)", "qtight", "0"]) }
    }
}
