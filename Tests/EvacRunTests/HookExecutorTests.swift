import EvacCore
import EvacFake
import Foundation
import Testing

@testable import EvacRun

/// Hooks in runs: when they run, what their failure does, and that a resume after kill -9 at
/// any journal write never repeats one that completed.
@Suite struct HookExecutorTests {
    /// A hook program that appends `POINT GUEST-or-HOST OUTCOME` to `log` and exits with the
    /// status named in the file `fail.<subject>` when there is one.
    static func recorder(_ dir: TempDir) throws -> (program: String, log: String) {
        let log = dir.path + "/hooks.log"
        let s = try HookProcessTests.script(
            dir, "hook",
            """
            who="${EVAC_GUEST:-$EVAC_HOST}"
            echo "$EVAC_HOOK_POINT $who ${EVAC_OUTCOME:--} $EVAC_PLAN $EVAC_TARGET" >> \(log)
            if [ -f "\(dir.path)/fail.$who" ]; then exit "$(cat "\(dir.path)/fail.$who")"; fi
            """)
        return (s, log)
    }

    static func lines(_ log: String) -> [String] {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    static func hooks(
        _ program: String, guestPolicy: HookFailurePolicy = .skip, hostPolicy: HookFailurePolicy = .stop
    ) -> HookSet {
        var h = HookSet()
        h.beforeMigration = [
            HookSpec(name: "lb-drain", run: [program], timeoutMs: 10_000, onFailure: guestPolicy, only: ["web-*"])
        ]
        h.afterMigration = [
            HookSpec(name: "lb-enable", run: [program], timeoutMs: 10_000, onFailure: .continue, only: ["web-*"])
        ]
        h.beforeDrain = [HookSpec(name: "silence", run: [program], timeoutMs: 10_000, onFailure: hostPolicy)]
        h.afterDrain = [HookSpec(name: "upgrade", run: [program], timeoutMs: 10_000, onFailure: .continue)]
        return h
    }

    static func plan(
        _ program: String, guestPolicy: HookFailurePolicy = .skip, hostPolicy: HookFailurePolicy = .stop
    ) -> FakePlan {
        var p = FakePlan(moves: [
            .init("web-1", from: "s1", to: "t1"), .init("web-2", from: "s1", to: "t1"),
            .init("db-1", from: "s2", to: "t1"),
        ])
        p.total = 1
        p.perSource = 1
        p.perTarget = 1
        p.hooks = hooks(program, guestPolicy: guestPolicy, hostPolicy: hostPolicy)
        return p
    }

    @Test func hooksRunAroundEachMigrationAndEachDrainWithTheirContext() async throws {
        let dir = TempDir()
        let (program, log) = try Self.recorder(dir)
        let fp = Self.plan(program)
        let plan = try fp.planFile()
        let world = fp.world()
        let j = try SQLiteJournal(path: JournalLocation.journalPath(for: plan, stateDirectory: dir.path), plan: plan)
        let r = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        #expect(r.status == .allDone)
        let got = Self.lines(log)
        // Per guest: drain before, enable after with the outcome; db-1 has no guest hooks.
        for g in ["web-1", "web-2"] {
            let mine = got.filter { $0.contains(" \(g) ") }
            #expect(
                mine == ["before-migration \(g) - fake-plan t1", "after-migration \(g) done fake-plan t1"], "\(got)")
        }
        #expect(!got.contains { $0.contains("db-1") })
        // Per host: before its first migration, after its last.
        for h in ["s1", "s2"] {
            #expect(got.filter { $0.hasPrefix("before-drain \(h) ") }.count == 1)
            #expect(got.filter { $0.hasPrefix("after-drain \(h) drained") }.count == 1)
            #expect(
                got.firstIndex { $0.hasPrefix("before-drain \(h)") }! < got.firstIndex {
                    $0.hasPrefix("after-drain \(h)")
                }!)
        }
        let s1Drained = got.firstIndex { $0.hasPrefix("after-drain s1") }!
        #expect(got.lastIndex { $0.hasPrefix("after-migration web-") }! < s1Drained)
        let state = try await j.hookState()
        #expect(state.records.count == 8)
        #expect(state.records.values.allSatisfy { $0.state == .ok })
        j.close()
        // A second resume of a finished run runs nothing again.
        let j2 = try SQLiteJournal(path: JournalLocation.journalPath(for: plan, stateDirectory: dir.path), plan: plan)
        defer { j2.close() }
        _ = await Executor(plan: plan, hypervisor: world, journal: j2).resume()
        #expect(Self.lines(log) == got)
    }

    /// A before-migration hook that fails with `skip` leaves its guest on its source (blocked,
    /// with the hook's failure as the reason) and runs its after-migration hook to undo it;
    /// the other guests move. A resume with the cause fixed runs it in a new pass.
    @Test func skipLeavesTheGuestAndAResumeTriesAgain() async throws {
        let dir = TempDir()
        let (program, log) = try Self.recorder(dir)
        try "7".write(toFile: dir.path + "/fail.web-1", atomically: true, encoding: .utf8)
        let fp = Self.plan(program)
        let plan = try fp.planFile()
        let world = fp.world()
        let path = JournalLocation.journalPath(for: plan, stateDirectory: dir.path)
        var j = try SQLiteJournal(path: path, plan: plan)
        let r = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        #expect(r.status == .partial)
        let web1 = try #require(r.steps.first { $0.guest == "web-1" })
        #expect(web1.state == .blocked)
        #expect(web1.reason?.contains("lb-drain failed for web-1: exit status 7") == true, "\(web1.reason ?? "")")
        #expect(world.whereIs(uuid: FakePlan.uuid("web-1")) == ["s1": .running])
        #expect(world.whereIs(uuid: FakePlan.uuid("web-2")) == ["t1": .running])
        #expect(Self.lines(log).contains("after-migration web-1 blocked fake-plan t1"))
        // s1 is not drained: its after-drain hook says so.
        #expect(Self.lines(log).contains { $0.hasPrefix("after-drain s1 partial") })
        j.close()

        try FileManager.default.removeItem(atPath: dir.path + "/fail.web-1")
        j = try SQLiteJournal(path: path, plan: plan)
        defer { j.close() }
        let again = await Executor(plan: plan, hypervisor: world, journal: j).resume(retry: .all)
        #expect(again.status == .allDone)
        #expect(Self.lines(log).filter { $0.hasPrefix("before-migration web-1") }.count == 2)
        #expect(Self.lines(log).filter { $0.hasPrefix("before-migration web-2") }.count == 1)
        let state = try await j.hookState()
        #expect(
            state.records[.init(point: .beforeMigration, hook: "lb-drain", scope: "apply:1", pass: 1)]?.state == .failed
        )
        #expect(
            state.records[.init(point: .beforeMigration, hook: "lb-drain", scope: "apply:1", pass: 2)]?.state == .ok)
    }

    /// A before-drain hook that fails with `stop` ends the run before any migration starts.
    @Test func aFailingStopHookStartsNothing() async throws {
        let dir = TempDir()
        let (program, _) = try Self.recorder(dir)
        try "1".write(toFile: dir.path + "/fail.s1", atomically: true, encoding: .utf8)
        let fp = Self.plan(program)
        let plan = try fp.planFile()
        let world = fp.world()
        let j = try SQLiteJournal(path: JournalLocation.journalPath(for: plan, stateDirectory: dir.path), plan: plan)
        defer { j.close() }
        let r = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        #expect(r.status == .partial)
        #expect(r.message?.contains("before-drain hook silence failed for s1") == true, "\(r.message ?? "")")
        #expect(world.migrationCounts.isEmpty)
        #expect(r.steps.allSatisfy { $0.state == .pending && $0.reason?.hasPrefix("not started:") == true })
    }

    /// A `stop` before-migration hook halts new starts: the guests after it stay pending.
    @Test func aStopGuestHookHaltsTheRun() async throws {
        let dir = TempDir()
        let (program, _) = try Self.recorder(dir)
        try "2".write(toFile: dir.path + "/fail.web-1", atomically: true, encoding: .utf8)
        let fp = Self.plan(program, guestPolicy: .stop)
        let plan = try fp.planFile()
        let world = fp.world()
        let j = try SQLiteJournal(path: JournalLocation.journalPath(for: plan, stateDirectory: dir.path), plan: plan)
        defer { j.close() }
        let r = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        #expect(r.status == .partial)
        #expect(r.steps.first { $0.guest == "web-1" }?.state == .blocked)
        #expect(r.steps.first { $0.guest == "web-2" }?.state == .pending)
        #expect(r.steps.first { $0.guest == "web-2" }?.reason?.contains("hook lb-drain") == true)
        #expect(world.whereIs(uuid: FakePlan.uuid("web-2")) == ["s1": .running])
    }

    /// kill -9 at every journal write of an apply with hooks, then a resume: every guest ends
    /// on its target, every hook completed, and none ran twice except the one whose command had
    /// ended when the process died before its end was journaled (it is run again: at least once).
    @Test func resumeAfterKillAtEveryWriteNeverRepeatsACompletedHook() async throws {
        let probeDir = TempDir()
        let (probeProgram, _) = try Self.recorder(probeDir)
        let probe = Self.plan(probeProgram)
        let writes = try await {
            let plan = try probe.planFile()
            let count = CrashSwitch(at: nil)
            let j = try SQLiteJournal(
                path: JournalLocation.journalPath(for: plan, stateDirectory: probeDir.path), plan: plan,
                hook: count.hook)
            defer { j.close() }
            _ = await Executor(plan: plan, hypervisor: probe.world(), journal: j).apply()
            return count.writes
        }()
        #expect(writes > 20)
        for k in 1...writes {
            let dir = TempDir()
            let (program, log) = try Self.recorder(dir)
            let fp = Self.plan(program)
            let plan = try fp.planFile()
            let world = fp.world()
            let path = JournalLocation.journalPath(for: plan, stateDirectory: dir.path)
            let crash = CrashSwitch(at: k, world: world)
            var o = ExecutorOptions()
            o.inTransitWait = .zero
            let j1 = try SQLiteJournal(path: path, plan: plan, hook: crash.hook)
            _ = await Executor(plan: plan, hypervisor: world, journal: j1, options: o).apply()
            j1.close()
            world.restart()
            let j2 = try SQLiteJournal(path: path, plan: plan)
            let r = await Executor(plan: plan, hypervisor: world, journal: j2, options: o).resume()
            let state = try await j2.hookState()
            j2.close()
            #expect(r.status == .allDone, "crash at \(k): \(r.status) \(r.message ?? "")")
            for m in fp.moves {
                #expect(world.whereIs(uuid: m.uuid) == [m.target: .running], "crash at \(k): \(m.guest)")
            }
            #expect(state.records.count == 8 && state.records.values.allSatisfy { $0.state == .ok }, "crash at \(k)")
            let got = Self.lines(log)
            var counts: [String: Int] = [:]
            for l in got { counts[l.split(separator: " ").prefix(2).joined(separator: " "), default: 0] += 1 }
            #expect(counts.count == 8, "crash at \(k): \(got)")
            let repeated = counts.filter { $0.value > 1 }
            #expect(repeated.count <= 1 && repeated.values.allSatisfy { $0 == 2 }, "crash at \(k): \(got)")
            // Only a crash at a hook's own end write may repeat it: its `running` row survives.
            if let again = repeated.keys.first {
                let point = String(again.split(separator: " ")[0])
                #expect(
                    state.records.values.contains { $0.point.rawValue == point && $0.runID == 2 },
                    "crash at \(k): \(again)")
            }
        }
    }
}
