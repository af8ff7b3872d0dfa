import EvacCore
import EvacFake
import Foundation
import Testing

@testable import EvacRun

/// kill -9 between every pair of journal writes, now of rollback too: apply → crash → rollback,
/// and apply → crash → rollback → crash → rollback or resume, for every pair of crash points.
/// (CrashTests enumerates apply → crash → resume.) Each sequence ends with every guest on its
/// source, on one host only, moved out and back at most once, and a journal that says the run is
/// over, so that `status`, the archive and `resume` agree with the hosts.
@Suite struct CrashEnumerationTests {
    /// c waits for a; two in flight at once, so a crash can catch two migrations.
    static var three: FakePlan {
        var p = FakePlan(moves: [
            .init("a", from: "s1", to: "t1"), .init("b", from: "s2", to: "t2"),
            .init("c", from: "s1", to: "t2", after: ["a"]),
        ])
        p.total = 2
        p.perSource = 1
        p.perTarget = 2
        return p
    }

    /// One process's life: an executor on a journal that "dies" at its `crashAt`-th write
    /// (nil: never). Returns whether it died.
    static func life(
        _ plan: PlanFile, _ world: FakeHypervisor, _ dir: TempDir, crashAt: Int?,
        _ body: (Executor) async -> RunResult
    ) async throws -> (crashed: Bool, result: RunResult) {
        let crash = CrashSwitch(at: crashAt, world: world)
        let j = try SQLiteJournal(
            path: JournalLocation.journalPath(for: plan, stateDirectory: dir.path), plan: plan, hook: crash.hook)
        var o = ExecutorOptions()
        o.inTransitWait = .zero // the fake lands in-flight migrations at the crash itself
        let result = await body(Executor(plan: plan, hypervisor: world, journal: j, options: o))
        j.close()
        world.restart()
        return (crash.tripped, result)
    }

    /// Every guest on its source only, moved out and back at most once (never left out), and
    /// the journal over.
    static func assertHome(
        _ fp: FakePlan, _ world: FakeHypervisor, _ plan: PlanFile, _ dir: TempDir, _ what: String
    ) throws {
        for m in fp.moves {
            #expect(
                world.whereIs(uuid: m.uuid) == [m.source: .running],
                "\(what): \(m.guest) is on \(world.whereIs(uuid: m.uuid))")
            let n = world.migrationCounts[m.uuid] ?? 0
            #expect(n == 0 || n == 2, "\(what): \(m.guest) migrated \(n) times")
        }
        let s = try JournalStatus.read(path: JournalLocation.journalPath(for: plan, stateDirectory: dir.path))
        let standing = RunStanding.of(runs: s.runs, apply: s.apply, rollback: s.rollback)
        #expect(standing.isOver, "\(what): \(standing); apply \(s.apply.map { "\($0.guest)=\($0.state)" })")
        #expect(!s.apply.contains { $0.state == .done || $0.state == .running }, "\(what)")
        #expect(s.rollback.allSatisfy { $0.state == .done }, "\(what)")
        #expect(JournalArchive.closedReason(s) != nil, "\(what)")
    }

    /// Counts the journal writes of a whole sequence's stage, so the enumeration knows its end.
    static func writes(
        _ plan: PlanFile, _ world: FakeHypervisor, _ dir: TempDir,
        _ body: (Executor) async -> RunResult
    ) async throws -> Int {
        let count = CrashSwitch(at: nil)
        let j = try SQLiteJournal(
            path: JournalLocation.journalPath(for: plan, stateDirectory: dir.path), plan: plan, hook: count.hook)
        _ = await body(Executor(plan: plan, hypervisor: world, journal: j))
        j.close()
        return count.writes
    }

    @Test("apply killed at every journal write, then rollback: every guest home")
    func applyCrashThenRollback() async throws {
        let fp = smallPlan()
        let plan = try fp.planFile()
        var points = 0
        for k in 1... {
            let dir = TempDir()
            let world = fp.world(migrationDelay: .milliseconds(1))
            let (crashed, _) = try await Self.life(plan, world, dir, crashAt: k) { await $0.apply() }
            guard crashed else { break }
            points += 1
            let (_, back) = try await Self.life(plan, world, dir, crashAt: nil) { await $0.rollback() }
            #expect(
                back.status == .allDone,
                "k=\(k): \(back.message ?? "") \(back.steps.map { "\($0.guest) \($0.state) \($0.reason ?? "")" })")
            try Self.assertHome(fp, world, plan, dir, "apply crash k=\(k)")
        }
        #expect(points > 8)
    }

    @Test(
        "apply killed at k, rollback killed at m, then rollback again — or resume — for every k and m",
        arguments: ["rollback", "resume"])
    func applyCrashRollbackCrash(finisher: String) async throws {
        let fp = Self.three
        let plan = try fp.planFile()
        var pairs = 0
        // k = nil: the apply completed before the rollback was killed.
        var ks: [Int?] = [nil]
        for k in 1... {
            let dir = TempDir()
            let world = fp.world(migrationDelay: .milliseconds(1))
            guard try await Self.life(plan, world, dir, crashAt: k, { await $0.apply() }).crashed else { break }
            ks.append(k)
        }
        #expect(ks.count > 5)
        for k in ks {
            for m in 1... {
                let dir = TempDir()
                let world = fp.world(migrationDelay: .milliseconds(1))
                _ = try await Self.life(plan, world, dir, crashAt: k) { await $0.apply() }
                let (crashed, _) = try await Self.life(plan, world, dir, crashAt: m) { await $0.rollback() }
                guard crashed else { break }
                pairs += 1
                for m in fp.moves {
                    #expect(
                        world.whereIs(uuid: m.uuid).count == 1, "k=\(k.map(String.init) ?? "-") m=\(m): on one host")
                }
                // Killed before its run row was durable, the rollback left no trace and moved
                // nothing: then resume continues the apply, which is what the journal records.
                let began = try JournalStatus.read(
                    path: JournalLocation.journalPath(for: plan, stateDirectory: dir.path)
                )
                .runs.contains { $0.kind == .rollback }
                let (_, end) = try await Self.life(plan, world, dir, crashAt: nil) {
                    finisher == "resume" ? await $0.resume() : await $0.rollback()
                }
                let what = "apply crash k=\(k.map(String.init) ?? "none"), rollback crash m=\(m), then \(finisher)"
                #expect(
                    end.status == .allDone,
                    "\(what): \(end.message ?? "") \(end.steps.map { "\($0.kind) \($0.guest) \($0.state)" })")
                if finisher == "resume" && !began {
                    #expect(m == 1, "\(what): only the first write holds the run row")
                    #expect(end.steps.allSatisfy { $0.kind == .apply })
                    for g in fp.moves {
                        #expect(world.whereIs(uuid: g.uuid) == [g.target: .running], "\(what): \(g.guest)")
                    }
                    continue
                }
                #expect(end.steps.allSatisfy { $0.kind == .rollback }, "\(what): \(finisher) went home, not forward")
                try Self.assertHome(fp, world, plan, dir, what)
            }
        }
        #expect(pairs > 20)
    }
}
