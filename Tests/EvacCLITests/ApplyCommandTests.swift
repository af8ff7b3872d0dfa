import Foundation
import XCTest
import EvacCore

/// apply/resume/rollback/status wiring that needs no migration: dry runs and refusals, against
/// the demo fleet on libvirt's test driver. Real migrations are tested on the lab (EvacLabTests)
/// and on session daemons (MigrationLabTests).
final class ApplyCommandTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("evac-apply-\(UUID().uuidString)")
        // A private copy of the demo plan and its hosts, so a test can change the world.
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("hosts"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Repo.path("plans/demo/rack12-drain.yaml"), toPath: dir.appendingPathComponent("plan.yaml").path)
        for h in ["kvm-12a", "kvm-12b", "kvm-13a", "kvm-13b", "kvm-13c"] {
            try FileManager.default.copyItem(atPath: Repo.path("plans/demo/hosts/\(h).xml"), toPath: dir.appendingPathComponent("hosts/\(h).xml").path)
        }
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    var plan: String { dir.appendingPathComponent("plan.yaml").path }
    var state: String { dir.appendingPathComponent("state").path }

    func savePlanFile() throws -> String {
        let r = try runEvac(["plan", plan, "--output", "json", "-o", dir.appendingPathComponent("plan.json").path])
        XCTAssertEqual(r.status, 1, r.stderr)
        return dir.appendingPathComponent("plan.json").path
    }

    func testDryRunChecksEveryMigrationAndChangesNothing() throws {
        let r = try runEvac(["apply", plan, "--dry-run", "--state-dir", state])
        XCTAssertEqual(r.status, 1, "the demo plan has unplaceable guests: partial; stderr: \(r.stderr)")
        XCTAssertTrue(r.stdout.contains("Dry run of rack12-demo"), r.stdout)
        XCTAssertTrue(r.stdout.contains("db-01"), r.stdout)
        XCTAssertTrue(r.stdout.contains("All pre-checks pass."), r.stdout)
        XCTAssertTrue(r.stdout.contains("Estimated duration: about"), r.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: state), "a dry run writes no journal")
    }

    func testStalePlanFileIsRefusedWithWhatChanged() throws {
        let saved = try savePlanFile()
        // web-01 grows from 4 to 6 GiB after planning.
        let host = dir.appendingPathComponent("hosts/kvm-12a.xml").path
        let xml = try String(contentsOfFile: host, encoding: .utf8)
        let grown = xml.replacingOccurrences(of: "<name>web-01</name>", with: "<name>web-01</name><!-- grown -->")
            .replacingOccurrences(of: "<memory unit=\"GiB\">4</memory>", with: "<memory unit=\"GiB\">6</memory>")
        XCTAssertNotEqual(grown, xml)
        try grown.write(toFile: host, atomically: true, encoding: .utf8)

        let r = try runEvac(["apply", saved, "--state-dir", state])
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stderr.contains("is stale: the inventory changed since it was planned"), r.stderr)
        XCTAssertTrue(r.stderr.contains("web-01: resized from 4.0 GiB"), r.stderr)
        let journals = ((try? FileManager.default.contentsOfDirectory(atPath: state)) ?? []).filter { $0.hasSuffix(".journal.sqlite") }
        XCTAssertEqual(journals, [], "nothing started: no journal")

        let forced = try runEvac(["apply", saved, "--force", "--dry-run", "--state-dir", state])
        XCTAssertTrue(forced.stderr.contains("warning: applying a stale plan (--force)"), forced.stderr)
        XCTAssertTrue(forced.stdout.contains("Dry run of rack12-demo"), forced.stdout)
    }

    func testEditedPlanFileIsInvalid() throws {
        let saved = try savePlanFile()
        let text = try String(contentsOfFile: saved, encoding: .utf8)
        try text.replacingOccurrences(of: "\"target\" : \"kvm-13b\"", with: "\"target\" : \"kvm-13c\"")
            .write(toFile: saved, atomically: true, encoding: .utf8)
        let r = try runEvac(["apply", saved, "--state-dir", state])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("plan file was modified after it was written"), r.stderr)
    }

    func testResumeAndStatusWithoutAJournal() throws {
        let r = try runEvac(["resume", plan, "--state-dir", state])
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stderr.contains("no journal for plan rack12-demo"), r.stderr)
        let s = try runEvac(["status", "--state-dir", state])
        XCTAssertEqual(s.status, 0, s.stderr)
        XCTAssertTrue(s.stdout.hasPrefix("no journals in"), s.stdout)
        let bad = try runEvac(["resume", plan, "--retry", "a,,b", "--state-dir", state])
        XCTAssertEqual(bad.status, 2, "argument errors are invalid input: \(bad.stderr)")
    }

    func testApplyRefusesAJournalAsInput() throws {
        let r = try runEvac(["apply", dir.appendingPathComponent("x.journal.sqlite").path])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("use `evac resume"), r.stderr)
    }
}
