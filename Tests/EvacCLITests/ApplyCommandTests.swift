import EvacCore
import Foundation
import XCTest

/// apply/resume/rollback/status wiring that needs no migration: dry runs and refusals, against
/// the demo fleet on libvirt's test driver. Real migrations are tested on the lab (EvacLabTests)
/// and on session daemons (MigrationLabTests).
final class ApplyCommandTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("evac-apply-\(UUID().uuidString)")
        // A private copy of the demo plan and its hosts, so a test can change the world.
        try FileManager.default.createDirectory(
            at: dir.appendingPathComponent("hosts"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: Repo.path("plans/demo/rack12-drain.yaml"), toPath: dir.appendingPathComponent("plan.yaml").path)
        for h in ["kvm-12a", "kvm-12b", "kvm-13a", "kvm-13b", "kvm-13c"] {
            try FileManager.default.copyItem(
                atPath: Repo.path("plans/demo/hosts/\(h).xml"),
                toPath: dir.appendingPathComponent("hosts/\(h).xml").path)
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
        XCTAssertTrue(r.stdout.contains("Estimated duration: about"), r.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: state), "a dry run writes no journal")
        // Every migration's pre-checks pass, but six guests stay where they are: the dry run
        // says so, and why, instead of "All pre-checks pass".
        XCTAssertFalse(r.stdout.contains("All pre-checks pass."), r.stdout)
        XCTAssertTrue(r.stdout.contains("6 guest(s) unplaceable, they stay on their sources"), r.stdout)
        XCTAssertTrue(
            r.stdout.contains("    kvm-13a: 32.0 GiB free after reserve, needs 64.0 GiB (filter memory)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("  gpu-01 on kvm-12a: has host device pci:0000:3b:00.0"), r.stdout)
        XCTAssertTrue(
            r.stdout.contains("Not everything will move: 6 guest(s) unplaceable; the apply would exit 1 (partial)."),
            r.stdout)
    }

    /// The dry run passes (and exits 0) only when every guest of the plan has a migration and
    /// every migration's pre-checks pass.
    func testDryRunPassesOnlyWhenEverythingMoves() throws {
        let text = try String(contentsOfFile: plan, encoding: .utf8)
        let movable = text.replacingOccurrences(
            of: "  exclude: [\"scratch-*\"]",
            with: "  include: [\"db-*\", \"web-01\", \"app-02\", \"win-01\", \"legacy-01\"]")
        XCTAssertNotEqual(movable, text)
        try movable.write(toFile: plan, atomically: true, encoding: .utf8)
        let r = try runEvac(["apply", plan, "--dry-run", "--state-dir", state])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasSuffix("All pre-checks pass.\n"), r.stdout)
        XCTAssertFalse(r.stdout.contains("unplaceable"), r.stdout)
        let j = try runEvac(["apply", plan, "--dry-run", "--output", "json", "--state-dir", state])
        XCTAssertEqual(j.status, 0, j.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["allPass"] as? Bool, true)
        XCTAssertEqual(object["exitCode"] as? Int, 0)
        XCTAssertEqual(object["status"] as? String, "all-done")
    }

    /// A blocked migration fails the dry run with its reason (exit 1, as the apply's partial).
    func testDryRunWithABlockedMigrationSaysWhichAndExitsAsTheApplyWould() throws {
        let saved = try savePlanFile()
        // Three of the plan's migrations go to kvm-13b, which is gone after planning.
        try FileManager.default.removeItem(at: dir.appendingPathComponent("hosts/kvm-13b.xml"))
        let r = try runEvac(["apply", saved, "--dry-run", "--state-dir", state])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stdout.contains("web-01"), r.stdout)
        XCTAssertTrue(r.stdout.contains("would be blocked: target kvm-13b"), r.stdout)
        XCTAssertFalse(r.stdout.contains("All pre-checks pass."), r.stdout)
        XCTAssertTrue(
            r.stdout.contains(
                "Not everything will move: 3 migration(s) would be blocked, 6 guest(s) unplaceable; the apply would exit 1 (partial)."
            ), r.stdout)
        let j = try runEvac(["apply", saved, "--dry-run", "--output", "json", "--state-dir", state])
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["blocked"] as? Int, 3)
        XCTAssertEqual(object["exitCode"] as? Int, 1)
        XCTAssertEqual(object["status"] as? String, "partial")
        let details = try XCTUnwrap(object["unplaceableDetails"] as? [[String: Any]])
        XCTAssertEqual(details.count, 6)
    }

    /// A source that does not answer: the apply does not start (exit 3), and neither does the
    /// dry run pretend it would: same exit code, and why.
    func testDryRunWithASourceDownExitsAsTheApplyWould() throws {
        let saved = try savePlanFile()
        try FileManager.default.removeItem(at: dir.appendingPathComponent("hosts/kvm-12b.xml"))
        let dry = try runEvac(["apply", saved, "--force", "--dry-run", "--state-dir", state])
        XCTAssertEqual(dry.status, 3, dry.stderr)
        XCTAssertTrue(dry.stdout.contains("The apply would not start: source not reachable: kvm-12b"), dry.stdout)
        let apply = try runEvac(["apply", saved, "--force", "--state-dir", state])
        XCTAssertEqual(apply.status, 3, apply.stderr)
        XCTAssertTrue(apply.stderr.contains("source not reachable: kvm-12b"), apply.stderr)
    }

    /// `--output json` applies to the dry run too: one JSON object, the table nowhere.
    func testDryRunWithOutputJSONPrintsJSON() throws {
        let r = try runEvac(["apply", plan, "--dry-run", "--output", "json", "--state-dir", state])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertFalse(r.stdout.contains("All pre-checks pass."), r.stdout)
        let object = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        XCTAssertEqual(object["planName"] as? String, "rack12-demo")
        let checks = try XCTUnwrap(object["checks"] as? [[String: Any]])
        XCTAssertTrue(checks.contains { $0["guest"] as? String == "db-01" }, r.stdout)
        XCTAssertEqual(object["blocked"] as? Int, 0)
        XCTAssertEqual(object["allPass"] as? Bool, false, "the demo plan has unplaceable guests")
        XCTAssertFalse((object["unplaceable"] as? [String] ?? []).isEmpty)
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
        let journals = ((try? FileManager.default.contentsOfDirectory(atPath: state)) ?? []).filter {
            $0.hasSuffix(".journal.sqlite")
        }
        XCTAssertEqual(journals, [], "nothing started: no journal")

        let forced = try runEvac(["apply", saved, "--force", "--dry-run", "--state-dir", state])
        XCTAssertTrue(forced.stderr.contains("warning: applying a stale plan (--force)"), forced.stderr)
        XCTAssertTrue(forced.stdout.contains("Dry run of rack12-demo"), forced.stdout)
    }

    /// Hosts that hot-add memory (virtio-mem) grow between plan and apply: that makes no plan
    /// wrong. A target that lost memory does.
    func testATargetThatGrewIsNotStaleOneThatShrankIs() throws {
        let saved = try savePlanFile()
        let host = dir.appendingPathComponent("hosts/kvm-13b.xml").path
        let xml = try String(contentsOfFile: host, encoding: .utf8)
        let grown = xml.replacingOccurrences(of: "<memory>50331648</memory>", with: "<memory>52428800</memory>")
        XCTAssertNotEqual(grown, xml)
        try grown.write(toFile: host, atomically: true, encoding: .utf8)
        let r = try runEvac(["apply", saved, "--dry-run", "--state-dir", state])
        XCTAssertFalse(r.stderr.contains("is stale"), r.stderr)
        XCTAssertTrue(r.stdout.contains("Dry run of rack12-demo"), r.stdout)

        try xml.replacingOccurrences(of: "<memory>50331648</memory>", with: "<memory>33554432</memory>")
            .write(toFile: host, atomically: true, encoding: .utf8)
        let shrunk = try runEvac(["apply", saved, "--dry-run", "--state-dir", state])
        XCTAssertEqual(shrunk.status, 3, shrunk.stderr)
        XCTAssertTrue(
            shrunk.stderr.contains("target kvm-13b: less memory, 32.0 GiB now, 48.0 GiB when planned"), shrunk.stderr)
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

    /// Every command failure carries its exit code: an output file that cannot be written is
    /// bad input (2), said as evac says errors — before, it was the parser's "Error:" and exit 1,
    /// which scripts read as "some guests unplaceable".
    func testFailuresExitWithTheirCodeAndEvacsWording() throws {
        let r = try runEvac(["plan", plan, "-o", dir.appendingPathComponent("no/such/dir/plan.txt").path])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("error: cannot write "), r.stderr)
        XCTAssertFalse(r.stderr.contains("Error: "), r.stderr)
        let snapshot = dir.appendingPathComponent("inventory.json")
        try Data("{".utf8).write(to: snapshot)
        let s = try runEvac(["plan", plan, "--inventory", snapshot.path])
        XCTAssertEqual(s.status, 2, s.stderr)
        XCTAssertTrue(s.stderr.hasPrefix("error: "), s.stderr)
    }

    /// `resume --timeout` and `--bandwidth` speak the plan's grammar, bounds included.
    func testResumeOverridesUseThePlansGrammarAndBounds() throws {
        for (args, wanted) in [
            (["--timeout", "0s"], "timeout must be from 1s to 168h, found 0s"),
            (["--timeout", "0s/GiB"], "timeout must be from 1s to 24h, found 0s/GiB"),
            (["--timeout", "10 parsecs"], "duration"),
            (["--bandwidth", "1Gbit/s"], "is in bits"),
        ] {
            let r = try runEvac(["resume", plan, "--state-dir", state] + args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(wanted), "\(args): \(r.stderr)")
        }
        for args in [
            ["--timeout", "2m per GiB"], ["--timeout", "2m/GiB"], ["--timeout", "none"], ["--bandwidth", "none"],
        ] {
            let r = try runEvac(["resume", plan, "--state-dir", state] + args)
            XCTAssertEqual(r.status, 3, "accepted, then no journal: \(args): \(r.stderr)")
        }
    }

    func testApplyRefusesAJournalAsInput() throws {
        let r = try runEvac(["apply", dir.appendingPathComponent("x.journal.sqlite").path])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("use `evac resume"), r.stderr)
    }

    // MARK: one plan, one run (the test driver cannot migrate: every migration fails, which is
    // a partial run with guests still on their sources, as after a night of failures)

    func journals() -> (open: [String], closed: [String]) {
        let all = ((try? FileManager.default.contentsOfDirectory(atPath: state)) ?? []).filter {
            $0.hasSuffix(".journal.sqlite")
        }.sorted()
        return (all.filter { !$0.contains(".closed-") }, all.filter { $0.contains(".closed-") })
    }

    func testApplyAgainContinuesTheOpenRunAndAChangedPlanIsRefusedWithTheExactCommands() throws {
        let first = try runEvac(["apply", plan, "--state-dir", state, "--output", "plain"])
        XCTAssertEqual(first.status, 1, "every migration fails on the test driver: partial; \(first.stderr)")
        XCTAssertEqual(journals().open.count, 1)
        let journal = state + "/" + journals().open[0]

        let again = try runEvac(["apply", plan, "--state-dir", state, "--output", "plain"])
        XCTAssertEqual(again.status, 1, again.stderr)
        XCTAssertTrue(
            again.stderr.contains("note: plan rack12-demo has a run that is not over: \(journal)"), again.stderr)
        XCTAssertTrue(again.stderr.contains("apply continues it as `evac resume \(journal)` does"), again.stderr)
        XCTAssertTrue(again.stdout.contains("run 2, journal \(journal)"), again.stdout)
        // A saved plan of the unchanged fleet has the same hash: it continues the same run too.
        let saved = try savePlanFile()
        let fromFile = try runEvac(["apply", saved, "--state-dir", state, "--output", "plain"])
        XCTAssertTrue(fromFile.stdout.contains("run 3, journal \(journal)"), fromFile.stdout + fromFile.stderr)
        XCTAssertEqual(journals().open, [(journal as NSString).lastPathComponent], "one run, one journal")

        // The plan edited: refused, exit 3, naming the exact commands that finish or undo the run.
        let text = try String(contentsOfFile: plan, encoding: .utf8)
        try (text + "# tightened after the failures\n").write(toFile: plan, atomically: true, encoding: .utf8)
        let changed = try runEvac(["apply", plan, "--state-dir", state])
        XCTAssertEqual(changed.status, 3, changed.stderr)
        XCTAssertTrue(
            changed.stderr.contains(
                "already has a run that is not over: \(journal) (0 done, 4 failed, 2 blocked of 6;"), changed.stderr)
        XCTAssertTrue(
            changed.stderr.contains(
                "help: finish that run with `evac resume \(journal)`, or return its guests with `evac rollback \(journal)`"
            ),
            changed.stderr)
        XCTAssertEqual(journals().open.count, 1, "nothing started")
        // The exact command works as printed (no --state-dir needed for a journal path).
        let resumed = try runEvac(["resume", journal, "--output", "plain"])
        XCTAssertEqual(resumed.status, 1, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("run 4, journal \(journal)"), resumed.stdout)
    }

    func testRollbackOfARunThatMovedNothingClosesItAndTheNextApplyStartsAfresh() throws {
        XCTAssertEqual(try runEvac(["apply", plan, "--state-dir", state]).status, 1)
        let back = try runEvac(["rollback", plan, "--state-dir", state, "--output", "plain"])
        XCTAssertEqual(back.status, 0, back.stderr)
        XCTAssertTrue(back.stdout.contains("nothing to roll back: no guest of this plan is on its target"), back.stdout)
        let resume = try runEvac(["resume", plan, "--state-dir", state])
        XCTAssertEqual(resume.status, 3)
        XCTAssertTrue(resume.stderr.contains("nothing to resume: the run of rack12-demo is over"), resume.stderr)
        let again = try runEvac(["apply", plan, "--state-dir", state, "--output", "plain"])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(
            again.stderr.contains("note: the last run of this plan is over (its rollback found no guest"), again.stderr)
        XCTAssertEqual(journals().open.count, 1)
        XCTAssertEqual(journals().closed.count, 1)
    }

    /// Journals written before one run per plan name: several live journals of one name.
    /// apply and resume refuse, naming them; rollback returns the guests of every one.
    func testSeveralOpenRunsOfOneNameAreRefusedAndRolledBackTogether() throws {
        XCTAssertEqual(try runEvac(["apply", plan, "--state-dir", state]).status, 1)
        let first = state + "/" + journals().open[0]
        let second = state + "/rack12-demo-000000000000.journal.sqlite"
        try FileManager.default.copyItem(atPath: first, toPath: second)
        for cmd in ["apply", "resume"] {
            let r = try runEvac([cmd, plan, "--state-dir", state])
            XCTAssertEqual(r.status, 3, "\(cmd): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("error: plan rack12-demo has 2 runs that are not over"), r.stderr)
            XCTAssertTrue(r.stderr.contains(first) && r.stderr.contains(second), r.stderr)
        }
        let back = try runEvac(["rollback", plan, "--state-dir", state, "--output", "plain"])
        XCTAssertEqual(back.status, 0, back.stderr)
        XCTAssertTrue(back.stderr.contains("rolling back") && back.stderr.contains("(2 of 2)"), back.stderr)
        XCTAssertEqual(back.stdout.components(separatedBy: "rollback finished: all-done").count - 1, 2, back.stdout)
    }
}
