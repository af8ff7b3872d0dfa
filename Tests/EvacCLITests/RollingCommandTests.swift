import EvacCore
import EvacFake
import EvacRun
import Foundation
import Testing

/// `evac roll` and the commands around a rolling plan, without hosts: what is refused, and what
/// `evac status` shows of a cycle's journal (batches and hooks).
@Suite struct RollingCommandTests {
    @Test func planAndApplyRefuseARollingPlanAndRollRefusesAPlainOne() throws {
        for command in ["plan", "apply"] {
            let r = try runEvac([command, "plans/lab/rolling.yaml"])
            #expect(r.status == 2, "\(command): \(r.stderr)")
            #expect(r.stderr.contains("is a rolling cycle") && r.stderr.contains("evac roll --dry-run"), "\(r.stderr)")
        }
        let r = try runEvac(["roll", "plans/maintenance-drain.yaml"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("has no rolling: section"), "\(r.stderr)")
        #expect(try runEvac(["validate", "plans/lab/rolling.yaml"]).status == 0)
    }

    /// A cycle journal as `evac roll` leaves it after batch 1 and a failed maintenance command
    /// of batch 2: status says which batch is where and shows the hook with its output tail.
    @Test func statusShowsTheCycleAndItsHooks() async throws {
        let dir = NSTemporaryDirectory() + "evac-roll-status-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var fp = FakePlan(moves: [])
        fp.name = "rack-roll"
        let plan = try fp.planFile()
        let path = JournalLocation.journalPath(for: plan, stateDirectory: dir)
        let j = try SQLiteJournal(path: path, plan: plan)
        try await j.commit(
            JournalBatch(
                runID: 1,
                beginRun: RunRecord(
                    id: 1, kind: .apply, planHash: plan.planHash, planName: plan.planName,
                    started: Timestamp.now(), command: "evac roll"),
                hooks: [
                    HookRecord(
                        point: .maintenance, hook: "upgrade", scope: "host:kvm-1", pass: 1, runID: 1, state: .ok,
                        subject: "kvm-1", exitStatus: 0, started: Timestamp.now(), message: "ok in 3s"),
                    HookRecord(
                        point: .maintenance, hook: "upgrade", scope: "host:kvm-2", pass: 1, runID: 1, state: .failed,
                        subject: "kvm-2", exitStatus: 4, started: Timestamp.now(),
                        output: "fetching\napt: held packages\n", message: "exit status 4 after 2s"),
                ],
                cycle: [
                    CycleRecord(batch: 1, hosts: ["kvm-1"], stage: .done, updated: Timestamp.now()),
                    CycleRecord(batch: 2, hosts: ["kvm-2"], stage: .maintenance, updated: Timestamp.now()),
                    CycleRecord(batch: 3, hosts: ["kvm-3"], stage: .pending, updated: Timestamp.now()),
                ]))
        j.close()
        let s = try runEvac(["status", path])
        #expect(s.status == 0, "\(s.stderr)")
        #expect(s.stdout.contains("Rolling cycle: 1 of 3 batch(es) done, now: kvm-2 maintenance"), "\(s.stdout)")
        #expect(s.stdout.contains("Hooks: 1 ok, 1 failed"), "\(s.stdout)")
        #expect(s.stdout.contains("exit status 4 after 2s | apt: held packages"), "\(s.stdout)")
        let json = try runEvac(["status", path, "--output", "json"])
        #expect(json.stdout.contains("\"stage\" : \"maintenance\""), "\(json.stdout)")
    }

    /// A whole cycle through libvirt's test driver (its hosts answer; their guests are left out
    /// by select, since the test driver cannot migrate): evac is killed (SIGKILL) while the
    /// second host's maintenance command runs; `evac roll` again runs that command again (it
    /// never completed) and not the first host's (it did), and finishes; a third `evac roll`
    /// runs nothing.
    @Test func aCycleKilledDuringMaintenanceContinuesWithoutRepeatingWhatCompleted() throws {
        let dir = NSTemporaryDirectory() + "evac-roll-cycle-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = dir + "/maintenance.log"
        let hold = dir + "/hold"
        let script = dir + "/upgrade"
        try """
        #!/bin/sh
        echo "start $EVAC_HOST $EVAC_HOOK_POINT" >> \(log)
        while [ -f \(hold) ] && [ "$EVAC_HOST" = kvm-12b ]; do sleep 0.1; done
        echo "end $EVAC_HOST" >> \(log)
        """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        try "".write(toFile: hold, atomically: true, encoding: .utf8)
        let hosts = Repo.path("plans/demo/hosts")
        let plan = dir + "/roll.yaml"
        try """
        version: 1
        name: demo-roll
        hosts:
          kvm-12a: "test://\(hosts)/kvm-12a.xml"
          kvm-12b: "test://\(hosts)/kvm-12b.xml"
          kvm-13a: "test://\(hosts)/kvm-13a.xml"
        sources: [kvm-12a, kvm-12b]
        targets: [ { pool: all, hosts: [kvm-12a, kvm-12b, kvm-13a] } ]
        select: { include: ["nothing-matches-*"] }
        rolling:
          wait-for-host: 10s
          maintenance:
            - { name: upgrade, run: [\(script)], timeout: 1m }

        """.write(toFile: plan, atomically: true, encoding: .utf8)
        let state = dir + "/state"
        func lines() -> [String] {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }

        let p = Process()
        p.executableURL = Repo.evac
        p.arguments = ["roll", plan, "--state-dir", state, "--output", "plain"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        var waited = 0
        while !lines().contains("start kvm-12b maintenance") && waited < 600 && p.isRunning {
            usleep(50_000)
            waited += 1
        }
        #expect(lines() == ["start kvm-12a maintenance", "end kvm-12a", "start kvm-12b maintenance"], "\(lines())")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        // The killed evac's hook is in a process group of its own: it outlives evac, as a
        // reboot command would; let it end.
        try FileManager.default.removeItem(atPath: hold)
        waited = 0
        while !lines().contains("end kvm-12b") && waited < 100 {
            usleep(50_000)
            waited += 1
        }

        let again = try runEvac(["roll", plan, "--state-dir", state, "--output", "plain"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("continuing the rolling cycle"), "\(again.stderr)")
        #expect(again.stdout.contains("was interrupted in run 1"), "\(again.stdout)")
        #expect(lines().filter { $0.hasPrefix("start kvm-12a") }.count == 1, "\(lines())")
        #expect(lines().filter { $0.hasPrefix("start kvm-12b") }.count == 2, "\(lines())")

        let third = try runEvac(["roll", plan, "--state-dir", state, "--output", "plain"])
        #expect(third.status == 0, "\(third.stderr)")
        #expect(lines().count == 6, "nothing ran again: \(lines())")
        let files = try FileManager.default.contentsOfDirectory(atPath: state).filter {
            $0.hasPrefix("demo-roll-") && !$0.contains("--") && $0.hasSuffix(".journal.sqlite")
        }
        #expect(files.count == 1, "\(files)")
        let status = try runEvac(["status", state + "/" + (files.first ?? "")])
        #expect(status.stdout.contains("Rolling cycle: 2 of 2 batch(es) done"), "\(status.stdout)")
    }
}
