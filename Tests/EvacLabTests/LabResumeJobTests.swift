import Foundation
import XCTest

/// kill -9 of `evac apply` while a peer-to-peer migration copies: the source daemon goes on
/// with it and reports it as the guest's job (`virsh domjobinfo`). The resume that follows at
/// once waits for that job to end and then reconciles from where libvirt says the guest is;
/// when the job outlasts the wait it says "needs attention", how long it waited, and does not
/// touch the guest. The slow migration is `Faults.dirty` (lab-5, RAM-dirtying) under 1 MiB/s,
/// which never ends by itself: the test ends it as an operator would, with libvirt's own
/// `migrate-setspeed` (it lands) or `domjobabort` (it stays on its source).
extension LabEndToEndTests {
    private enum JobEnd: String, CaseIterable { case lands, staysOnSource }

    func testResumeWaitsForTheMigrationTheKilledApplyLeftRunning() throws {
        for end in JobEnd.allCases {
            let (plan, state) = try killApplyMidMigration("resume-job-\(end.rawValue)", timeout: "10m")
            let resume = try Lab.start(
                Lab.evac, ["resume", plan, "--output", "plain", "--bandwidth", "none"],
                env: ["EVAC_STATE_DIR": state.path])
            XCTAssertTrue(
                resume.waitFor("is still in progress (lab-5 reports an outgoing migration job", timeout: 60),
                "resume waits for the job (\(end)): \(resume.output())")
            XCTAssertTrue(resume.output().stdout.contains("waiting up to 600 s"), "\(resume.output())")
            // The job still runs while resume waits: libvirt's own view.
            XCTAssertTrue(Self.jobActive(), "the migration is still in progress (\(end))")
            switch end {
            case .lands:
                let fast = try Lab.run(
                    Lab.virsh, ["-c", Lab.uri(Faults.dirtyHome), "migrate-setspeed", Faults.dirty, "100000"])
                XCTAssertEqual(fast.status, 0, "\(fast)")
            case .staysOnSource:
                let abort = try Lab.run(Lab.virsh, ["-c", Lab.uri(Faults.dirtyHome), "domjobabort", Faults.dirty])
                XCTAssertEqual(abort.status, 0, "\(abort)")
            }
            let out = resume.wait()
            XCTAssertEqual(out.status, 0, "resume after the job ended (\(end)): \(out)")
            let journal = try Journal(stateDir: state)
            let step = try XCTUnwrap(try journal.steps().first { $0.guest == Faults.dirty })
            XCTAssertEqual(step.state, "done", "\(end): \(step.reason ?? "")")
            let said = try journal.events().filter { $0.migrationID == step.id }.map(\.message)
            switch end {
            case .lands:
                XCTAssertEqual(step.attempt, 1, "not migrated again")
                XCTAssertTrue(said.contains("reconcile: completed after the crash (found on lab-4)"), "\(said)")
            case .staysOnSource:
                XCTAssertEqual(step.attempt, 2, "retried once the job had ended")
                XCTAssertTrue(
                    said.contains("reconcile: interrupted: found on lab-5, not on lab-4; will be retried"), "\(said)")
            }
            Faults.assertEachOnce([Faults.dirty: ([4], "running")])
            print("resume after kill -9 (\(end)): \(said)")
        }
    }

    /// The job outlasts the wait (the plan's 20 s migration timeout bounds it): needs attention,
    /// saying it waited and how long; the guest is not touched and the migration goes on.
    func testResumeGivesUpOnAMigrationThatOutlastsItsWait() throws {
        let (plan, state) = try killApplyMidMigration("resume-job-outlasts", timeout: "20s")
        defer { _ = try? Lab.run(Lab.virsh, ["-c", Lab.uri(Faults.dirtyHome), "domjobabort", Faults.dirty]) }
        let out = try evac(["resume", plan, "--output", "plain"], state: state)
        XCTAssertEqual(out.status, 1, "partial: \(out)")
        let step = try XCTUnwrap(try Journal(stateDir: state).steps().first { $0.guest == Faults.dirty })
        XCTAssertEqual(step.state, "failed")
        XCTAssertEqual(step.attempt, 1, "not retried while libvirt migrates it")
        let reason = step.reason ?? ""
        XCTAssertTrue(reason.contains("lab-5 still reports an outgoing migration job (running "), reason)
        XCTAssertTrue(reason.contains("after evac waited 20 s for the migration to end"), reason)
        XCTAssertTrue(reason.contains("needs attention; evac will not touch it while that job runs"), reason)
        XCTAssertTrue(out.stdout.contains("after evac waited 20 s"), "told the operator: \(out.stdout)")
        XCTAssertTrue(Self.jobActive(), "the migration goes on untouched")
        XCTAssertEqual(Lab.whereIs(Faults.dirty), [4, Faults.dirtyHome], "still copying: on both hosts")
        XCTAssertEqual(Lab.state(Faults.dirty, on: Faults.dirtyHome), "running")
        XCTAssertEqual(Lab.state(Faults.dirty, on: 4), "paused", "the incoming copy")
    }

    /// Starts `apply` of the dirty guest (lab-5 → lab-4, 1 MiB/s) and kills it with SIGKILL once
    /// libvirt runs the migration job, leaving that job to the source daemon.
    private func killApplyMidMigration(_ tag: String, timeout: String) throws -> (plan: String, state: URL) {
        try Lab.reset()
        try Faults.ensureDirtyGuest()
        let dir = try scratch(tag)
        let state = dir.appendingPathComponent("state")
        let plan = try Lab.writePlan(
            in: dir, name: tag, sources: [Faults.dirtyHome], targets: [4], include: [Faults.dirty],
            bandwidth: "1MiB/s", timeout: timeout)
        let apply = try Lab.start(
            Lab.evac, ["apply", plan, "--output", "plain"], env: ["EVAC_STATE_DIR": state.path])
        XCTAssertTrue(apply.waitFor("running: attempt 1", timeout: 60), "\(apply.output())")
        // "running" is journaled just before evac asks libvirt: wait until libvirt has the job.
        let deadline = Date().addingTimeInterval(30)
        while !Self.jobActive() && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        XCTAssertTrue(Self.jobActive(), "libvirt runs the migration: \(apply.output())")
        kill(apply.pid, SIGKILL)
        _ = apply.wait()
        return (plan, state)
    }

    /// Whether lab-5's daemon reports a job on the dirty guest (`virsh domjobinfo`).
    private static func jobActive() -> Bool {
        let o = try? Lab.run(Lab.virsh, ["-c", Lab.uri(Faults.dirtyHome), "domjobinfo", Faults.dirty])
        guard let o, o.status == 0 else { return false }
        return o.stdout.split(separator: "\n").contains { $0.hasPrefix("Job type:") && !$0.contains("None") }
    }
}
