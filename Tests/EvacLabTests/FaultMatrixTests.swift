import Foundation
import XCTest

/// The fault matrix on real daemons: what happens in a rack (a daemon killed or frozen, a QEMU
/// killed, a job aborted by someone else, no free migration port, Ctrl-C once and twice), each
/// asserting evac's exit code and the end state read from libvirt: every guest defined on
/// exactly one host, running, on its source or its planned target.
///
/// Its plans reach the hosts over the qemu+unix sockets whatever `EVAC_LAB_TRANSPORT` says: a
/// frozen daemon behind its socket is what most of it tests, and the rest shares its set-up.
///
/// The slow migrations use `Faults.dirty` on lab-5 (under 1 MiB/s it never converges), so the
/// other tests' guests on lab-1 and lab-2 are not touched; plans pin each guest to its target.
extension LabEndToEndTests {
    private func faultScratch(_ tag: String) throws -> URL {
        let dir = try Lab.tempDir(tag)
        addTeardownBlock { [weak self] in
            if self?.testRun?.hasSucceeded ?? false { try? FileManager.default.removeItem(at: dir) }
        }
        return dir
    }

    private func apply(_ plan: String, state: URL, _ extra: [String] = []) throws -> Lab.Running {
        try Lab.start(Lab.evac, ["apply", plan, "--output", "plain"] + extra, env: ["EVAC_STATE_DIR": state.path])
    }

    private func lab(_ args: String...) throws {
        let o = try Lab.lab(args)
        XCTAssertEqual(o.status, 0, "scripts/lab \(args.joined(separator: " ")): \(o)")
    }

    private var dirty: String { Faults.dirty }
    private var dirtyHome: Int { Faults.dirtyHome }

    /// The target's daemon is SIGKILLed while a migration to it is in flight: the source daemon
    /// ends the job (connection lost, transient), the retry's pre-check finds the target
    /// refusing connections and blocks it; the migration to the other target goes on. Exit 1.
    func testTargetDaemonKilledMidMigration() throws {
        try Lab.reset()
        try Faults.ensureDirtyGuest()
        let dir = try faultScratch("kill-target")
        let state = dir.appendingPathComponent("state")
        let plan = try Faults.plan(
            in: dir, name: "fault-kill-target",
            [
                .init(guest: dirty, from: dirtyHome, to: 4),
                .init(guest: "web-1", from: 1, to: 3),
            ])
        defer { _ = try? Lab.lab(["start-host", "4"]) }
        let run = try apply(plan, state: state)
        XCTAssertTrue(
            run.waitFor("\(dirty) lab-\(dirtyHome) → lab-4 running: attempt 1", timeout: 60), "\(run.output())")
        try lab("kill-host", "4")
        let out = run.wait()
        XCTAssertEqual(out.status, 1, "partial: \(out)")
        let steps = try Journal(stateDir: state).steps()
        let step = try XCTUnwrap(steps.first { $0.guest == dirty })
        XCTAssertEqual(step.state, "blocked", "\(step)")
        XCTAssertTrue(step.reason?.contains("target lab-4 (\(Lab.uri(4))) unreachable") == true, step.reason ?? "")
        XCTAssertEqual(steps.first { $0.guest == "web-1" }?.state, "done")
        let failed = try Faults.errors(stateDir: state).first
        XCTAssertEqual(
            failed?.error["kind"] as? String, "connection-lost",
            "the first attempt's error: \(String(describing: failed))")
        XCTAssertTrue(failed?.message.contains("transient") == true, "\(String(describing: failed))")
        try lab("start-host", "4")
        Faults.assertEachOnce([dirty: ([dirtyHome], "running"), "web-1": ([3], "running")])
    }

    /// The source's daemon is SIGKILLed mid-migration: evac loses its connection (the write to
    /// the dead socket must not kill it with SIGPIPE, exit 141), says the outcome is unknown
    /// and fails the step, exit 1. Restarted, the daemon finds the guest again.
    func testSourceDaemonKilledMidMigration() throws {
        try Lab.reset()
        try Faults.ensureDirtyGuest()
        let dir = try faultScratch("kill-source")
        let state = dir.appendingPathComponent("state")
        let plan = try Faults.plan(in: dir, name: "fault-kill-source", [.init(guest: dirty, from: dirtyHome, to: 4)])
        defer { _ = try? Lab.lab(["start-host", String(dirtyHome)]) }
        let run = try apply(plan, state: state)
        XCTAssertTrue(run.waitFor("running: attempt 1", timeout: 60), "\(run.output())")
        try lab("kill-host", String(dirtyHome))
        let out = run.wait()
        XCTAssertNotEqual(out.status, 141, "killed by SIGPIPE: \(out)")
        XCTAssertEqual(out.status, 1, "partial: \(out)")
        let step = try XCTUnwrap(try Journal(stateDir: state).steps().first { $0.guest == dirty })
        XCTAssertEqual(step.state, "failed")
        XCTAssertTrue(
            step.reason?.contains("lost the connection to lab-\(dirtyHome) during the migration") == true,
            step.reason ?? "")
        XCTAssertEqual(step.attempt, 1, "an unknown outcome is not retried")
        try lab("start-host", String(dirtyHome))
        Faults.assertEachOnce([dirty: ([dirtyHome, 4], "running")])
    }

    /// A target frozen (SIGSTOP) before the run: evac names it within the connect timeout
    /// (the host, its URI, the call) and places everything on the other target. Exit 0.
    func testTargetFrozenBeforeTheRun() throws {
        try Lab.reset()
        let dir = try faultScratch("freeze-before")
        let state = dir.appendingPathComponent("state")
        // qemu+unix: the frozen daemon's socket accepts and never answers, which the connect
        // deadline asserted below is about (over ssh, sshd answers first).
        let plan = try Lab.writePlan(
            in: dir, name: "fault-freeze-before", sources: [1], targets: [3, 4], include: ["web-*"], uri: Lab.uri)
        // The plan's deadlines, short for the suite (the defaults are measured in the README).
        if let c = Faults.connection {
            try (String(contentsOfFile: plan, encoding: .utf8) + "connection: \(c)\n").write(
                toFile: plan, atomically: true, encoding: .utf8)
        }
        try lab("freeze-host", "4")
        defer { _ = try? Lab.lab(["thaw-host", "4"]) }
        let t0 = Date()
        let out = try Lab.run(Lab.evac, ["apply", plan, "--output", "plain"], env: ["EVAC_STATE_DIR": state.path])
        print(
            "frozen target before apply: named and planned around in \(String(format: "%.1f", Date().timeIntervalSince(t0)))s"
        )
        XCTAssertEqual(out.status, 0, "\(out)")
        XCTAssertTrue(
            out.stderr.contains(
                "target host 'lab-4' is unreachable at \(Lab.uri(4)): virConnectOpenAuth: no connection within "),
            out.stderr)
        try lab("thaw-host", "4")
        Faults.assertEachOnce(["web-1": ([3], "running"), "web-2": ([3], "running")])
    }

    /// A target frozen (SIGSTOP) while the migration to it copies memory, with another one
    /// queued for it and one for the other target: evac's keepalive to the target gives up,
    /// evac aborts the migration (the guest stays on its source) and, when the source daemon
    /// does not end it within the call timeout (it waits on its frozen peer), stops waiting;
    /// the queued migration's pre-check is blocked naming the host; the other target's
    /// migration is done. Exit 1.
    func testTargetFrozenWhileCopying() throws {
        try frozenTargetScenario("copying") { out in
            // A progress sample of the dirty guest with memory being sent.
            out.split(separator: "\n").contains {
                $0.contains("\"event\":\"progress\"") && $0.contains(Faults.dirty)
                    && $0.contains("\"iteration\":1")
            }
        }
    }

    /// The same, frozen as the migration starts: the source daemon is then connecting to the
    /// target, which libvirt does without any deadline (it would wait until the target thaws);
    /// evac aborts and stops waiting all the same.
    func testTargetFrozenAsTheMigrationStarts() throws {
        try frozenTargetScenario("starting") { out in
            out.split(separator: "\n").contains { $0.contains("\"to\":\"running\"") && $0.contains(Faults.dirty) }
        }
    }

    private func frozenTargetScenario(_ tag: String, freezeWhen reached: @escaping (String) -> Bool) throws {
        try Lab.reset()
        try Faults.ensureDirtyGuest()
        let dir = try faultScratch("freeze-\(tag)")
        let state = dir.appendingPathComponent("state")
        let plan = try Faults.plan(
            in: dir, name: "fault-freeze-\(tag)",
            [
                .init(guest: dirty, from: dirtyHome, to: 4), .init(guest: "app-1", from: 2, to: 4),
                .init(guest: "web-1", from: 1, to: 3),
            ])
        defer { _ = try? Lab.lab(["thaw-host", "4"]) }
        let run = try Lab.start(Lab.evac, ["apply", plan, "--output", "json"], env: ["EVAC_STATE_DIR": state.path])
        XCTAssertTrue(run.waitUntil(timeout: 60, reached), "\(run.output())")
        try lab("freeze-host", "4")
        let frozen = Date()
        let out = run.wait()
        print(
            "target frozen (\(tag)): evac ended \(String(format: "%.1f", Date().timeIntervalSince(frozen)))s after the freeze; "
                + Faults.timeline(out.stdout, naming: "lab-4", since: frozen).joined(separator: "; "))
        XCTAssertEqual(out.status, 1, "partial: \(out)")
        let steps = try Journal(stateDir: state).steps()
        let moved = try XCTUnwrap(steps.first { $0.guest == dirty })
        XCTAssertTrue(["failed", "blocked"].contains(moved.state), "\(moved)")
        XCTAssertTrue(moved.reason?.contains("lab-4") == true, "names the frozen target: \(moved.reason ?? "")")
        let queued = try XCTUnwrap(steps.first { $0.guest == "app-1" })
        XCTAssertEqual(queued.state, "blocked", "\(queued)")
        XCTAssertTrue(queued.reason?.contains("target lab-4 (\(Lab.uri(4))) unreachable") == true, queued.reason ?? "")
        XCTAssertEqual(steps.first { $0.guest == "web-1" }?.state, "done")
        try lab("thaw-host", "4")
        Faults.assertEachOnce(
            [dirty: ([dirtyHome], "running"), "app-1": ([2], "running"), "web-1": ([3], "running")], settle: 60)
    }

    /// A target frozen between two attempts (the first failed for want of a migration port;
    /// the freeze comes during the back-off): the retry's pre-check, on the connection evac
    /// already has, is blocked within the call timeout naming the host, the URI and the call.
    func testTargetFrozenBeforeAPreCheck() throws {
        try Lab.reset()
        let dir = try faultScratch("freeze-precheck")
        let state = dir.appendingPathComponent("state")
        let plan = try Faults.plan(
            in: dir, name: "fault-freeze-precheck", [.init(guest: "web-1", from: 1, to: 4)], bandwidth: nil,
            retry: "{ attempts: 2, backoff: 1s }")
        let blocker = try PortBlocker(host: 4)
        defer {
            blocker.release()
            _ = try? Lab.lab(["thaw-host", "4"])
        }
        let run = try Lab.start(Lab.evac, ["apply", plan, "--output", "json"], env: ["EVAC_STATE_DIR": state.path])
        XCTAssertTrue(run.waitFor("attempt 1 failed (no-migration-port, transient)", timeout: 60), "\(run.output())")
        try lab("freeze-host", "4")
        let frozen = Date()
        blocker.release()
        let out = run.wait()
        print(
            "target frozen before a pre-check: "
                + Faults.timeline(out.stdout, naming: "lab-4", since: frozen).joined(separator: "; "))
        XCTAssertEqual(out.status, 1, "partial: \(out)")
        let step = try XCTUnwrap(try Journal(stateDir: state).steps().first { $0.guest == "web-1" })
        XCTAssertEqual(step.state, "blocked", "\(step)")
        XCTAssertTrue(
            step.reason?.hasPrefix("target lab-4 (\(Lab.uri(4))) unreachable: vir") == true,
            "names host, URI and call: \(step.reason ?? "")")
        try lab("thaw-host", "4")
        Faults.assertEachOnce(["web-1": ([1], "running")])
    }

    /// The guest's QEMU is killed mid-migration: the migration fails (not retried: the guest
    /// is gone, nothing transient), the guest is left shut off on its source, defined there
    /// only. Exit 1.
    func testGuestQEMUKilledMidMigration() throws {
        try Lab.reset()
        try Faults.ensureDirtyGuest()
        let dir = try faultScratch("kill-guest")
        let state = dir.appendingPathComponent("state")
        let plan = try Faults.plan(in: dir, name: "fault-kill-guest", [.init(guest: dirty, from: dirtyHome, to: 4)])
        let run = try apply(plan, state: state)
        XCTAssertTrue(run.waitFor("running: attempt 1", timeout: 60), "\(run.output())")
        try lab("kill-guest", dirty, String(dirtyHome))
        let out = run.wait()
        XCTAssertEqual(out.status, 1, "partial: \(out)")
        let step = try XCTUnwrap(try Journal(stateDir: state).steps().first { $0.guest == dirty })
        XCTAssertEqual(step.state, "failed", "a dead guest is not retried: \(step)")
        XCTAssertEqual(step.attempt, 1)
        Faults.assertEachOnce([dirty: ([dirtyHome], "shut off")])
    }

    /// `virsh domjobabort` on the source during the run: evac reports libvirt's own message
    /// and code (before the one capture path, "unknown libvirt error (code 1)"), does not
    /// retry an abort, and the guest stays on its source. Exit 1.
    func testAbortOutsideEvacKeepsLibvirtsError() throws {
        try Lab.reset()
        try Faults.ensureDirtyGuest()
        let dir = try faultScratch("jobabort")
        let state = dir.appendingPathComponent("state")
        let plan = try Faults.plan(in: dir, name: "fault-jobabort", [.init(guest: dirty, from: dirtyHome, to: 4)])
        let run = try apply(plan, state: state)
        XCTAssertTrue(run.waitFor("running: attempt 1", timeout: 60), "\(run.output())")
        // "running" is journaled just before evac asks libvirt to migrate: libvirt may not have
        // a job yet ("no job is active on the domain", seen once in CI), so try until it has.
        var abort = try Lab.run(Lab.virsh, ["-c", Lab.uri(dirtyHome), "domjobabort", dirty])
        for _ in 0..<100 where abort.status != 0 && abort.stderr.contains("no job is active") {
            Thread.sleep(forTimeInterval: 0.1)
            abort = try Lab.run(Lab.virsh, ["-c", Lab.uri(dirtyHome), "domjobabort", dirty])
        }
        XCTAssertEqual(abort.status, 0, "\(abort)")
        let out = run.wait()
        XCTAssertEqual(out.status, 1, "partial: \(out)")
        let step = try XCTUnwrap(try Journal(stateDir: state).steps().first { $0.guest == dirty })
        XCTAssertEqual(step.state, "failed")
        XCTAssertTrue(step.reason?.hasPrefix("aborted outside evac") == true, step.reason ?? "")
        let error = try XCTUnwrap(try Faults.errors(stateDir: state).first?.error)
        XCTAssertEqual(error["kind"] as? String, "aborted")
        let origin = try XCTUnwrap(error["origin"] as? [String: Any])
        XCTAssertEqual(origin["code"] as? Int, 78, "VIR_ERR_OPERATION_ABORTED: \(error)")
        XCTAssertTrue((origin["message"] as? String)?.contains("canceled by client") == true, "\(error)")
        XCTAssertTrue(out.stdout.contains("canceled by client"), "shown to the operator: \(out.stdout)")
        Faults.assertEachOnce([dirty: ([dirtyHome], "running")])
    }

    /// Every incoming-migration port of the target is taken (a transient failure, for real):
    /// the first attempt fails with libvirt's "Unable to find an unused port", journaled; once
    /// a port is free the retry moves the guest. Exit 0.
    func testNoFreeMigrationPortIsRetried() throws {
        try Lab.reset()
        let dir = try faultScratch("ports")
        let state = dir.appendingPathComponent("state")
        let plan = try Faults.plan(
            in: dir, name: "fault-ports", [.init(guest: "web-1", from: 1, to: 4)], bandwidth: nil,
            retry: "{ attempts: 3, backoff: 1s }")
        let blocker = try PortBlocker(host: 4)
        defer { blocker.release() }
        let run = try apply(plan, state: state)
        XCTAssertTrue(
            run.waitFor("web-1 lab-1 → lab-4 pending: attempt 1 failed (no-migration-port, transient)", timeout: 60),
            "\(run.output())")
        blocker.release()
        let out = run.wait()
        XCTAssertEqual(out.status, 0, "\(out)")
        let step = try XCTUnwrap(try Journal(stateDir: state).steps().first { $0.guest == "web-1" })
        XCTAssertEqual(step.state, "done")
        XCTAssertGreaterThanOrEqual(step.attempt, 2)
        let first = try XCTUnwrap(try Faults.errors(stateDir: state).first)
        XCTAssertEqual(first.error["kind"] as? String, "no-migration-port")
        let origin = try XCTUnwrap(first.error["origin"] as? [String: Any])
        XCTAssertTrue(
            (origin["message"] as? String)?.contains("Unable to find an unused port") == true, "\(first.error)")
        Faults.assertEachOnce(["web-1": ([4], "running")])
    }

    /// The first SIGINT starts nothing new, says so and lets the migrations in flight finish;
    /// the run ends interrupted (exit 4), every guest on its source or its target.
    func testFirstSIGINTLetsTheMigrationsInFlightFinish() throws {
        try Lab.reset()
        let dir = try faultScratch("sigint-once")
        let state = dir.appendingPathComponent("state")
        let plan = try Lab.writePlan(
            in: dir, name: "fault-sigint-once", perTarget: 1, total: 2, bandwidth: "1MiB/s", uri: Lab.uri)
        let run = try apply(plan, state: state)
        XCTAssertTrue(run.waitFor("running: attempt 1", timeout: 60), "\(run.output())")
        XCTAssertEqual(kill(run.pid, SIGINT), 0)
        let out = run.wait()
        XCTAssertEqual(out.status, 4, "interrupted: \(out)")
        let lines = out.stdout.split(separator: "\n")
        let notice = try XCTUnwrap(
            lines.firstIndex { $0.contains("NOTICE: stopping: no new migration starts;") }, out.stdout)
        XCTAssertTrue(
            lines[notice].contains("in flight will finish; press Ctrl-C again to abort them")
                || lines[notice].contains("none in flight"),
            String(lines[notice]))
        // Nothing starts that the notice did not count: a migration admitted just before the
        // stop may print its "running" line after the notice, but then it is one of the N.
        func guests(_ part: ArraySlice<Substring>, _ what: String) -> Set<Substring> {
            Set(part.filter { $0.contains(what) }.compactMap { $0.split(separator: " ").dropFirst().first })
        }
        let before = lines[..<notice]
        let after = lines[(notice + 1)...]
        let started = guests(before, "running: attempt").union(guests(after, "running: attempt"))
        let inFlight = started.subtracting(guests(before, " done"))
        let counted =
            lines[notice].contains("none in flight")
            ? 0 : Int(lines[notice].components(separatedBy: "starts; ").last?.split(separator: " ").first ?? "") ?? -1
        XCTAssertEqual(inFlight.count, counted, "every migration that started was counted by the stop: \(out.stdout)")
        let steps = try Journal(stateDir: state).steps().filter { $0.kind == "apply" }
        XCTAssertTrue(
            steps.contains { $0.state == "pending" },
            "the stop left steps for resume: \(steps.map { ($0.guest, $0.state) })")
        var expected: [String: (hosts: Set<Int>, state: String)] = [:]
        for s in steps {
            XCTAssertTrue(["done", "pending"].contains(s.state), "\(s.guest): \(s.state) \(s.reason ?? "")")
            let (from, to) = (Int(s.source.dropFirst(4))!, Int(s.target.dropFirst(4))!)
            expected[s.guest] = ([s.state == "done" ? to : from], "running")
        }
        Faults.assertEachOnce(expected)
    }

    /// The second SIGINT aborts the migrations in flight: the guest stays on its source, the
    /// step is pending for resume, exit 4.
    func testSecondSIGINTAbortsTheMigrationsInFlight() throws {
        try Lab.reset()
        try Faults.ensureDirtyGuest()
        let dir = try faultScratch("sigint-twice")
        let state = dir.appendingPathComponent("state")
        let plan = try Faults.plan(in: dir, name: "fault-sigint-twice", [.init(guest: dirty, from: dirtyHome, to: 4)])
        let run = try apply(plan, state: state)
        XCTAssertTrue(run.waitFor("running: attempt 1", timeout: 60), "\(run.output())")
        XCTAssertEqual(kill(run.pid, SIGINT), 0)
        XCTAssertTrue(
            run.waitFor(
                "NOTICE: stopping: no new migration starts; 1 in flight will finish; press Ctrl-C again to abort them",
                timeout: 30),
            "\(run.output())")
        XCTAssertEqual(kill(run.pid, SIGINT), 0)
        let out = run.wait()
        XCTAssertEqual(out.status, 4, "interrupted: \(out)")
        XCTAssertTrue(
            out.stdout.contains("NOTICE: aborting 1 migration(s) in flight; their guests stay on their sources"),
            out.stdout)
        let step = try XCTUnwrap(try Journal(stateDir: state).steps().first { $0.guest == dirty })
        XCTAssertEqual(step.state, "pending")
        XCTAssertTrue(step.reason?.contains("aborted by operator") == true, step.reason ?? "")
        Faults.assertEachOnce([dirty: ([dirtyHome], "running")])
    }
}
