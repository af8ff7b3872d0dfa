import EvacCore
import EvacFake
import Foundation
import Testing

@testable import EvacRun

/// The convergence ladder's `offline` fallback on the fault-injection fake: a busy guest that
/// never converges is shut down, moved as a definition and started on its target, each
/// sub-step journaled before it is done; a guest that ignores the shutdown stays on its source
/// unless the plan forces it off; and a process killed at any journal write leaves a run that
/// a resume finishes with the guest running on its target only, started there once.
@Suite struct OfflineFallbackTests {
    static let mib: UInt64 = 1 << 20

    static func plan(forceOff: Bool = false, undefineSource: Bool = true) throws -> (FakePlan, PlanFile) {
        var fp = FakePlan(moves: [
            FakePlan.Move("busy", from: "s1", to: "t1"), FakePlan.Move("idle", from: "s1", to: "t1"),
        ])
        var ladder = ConvergenceLadder(stallPasses: 1, fallback: .offline)
        ladder.allowRestart = true
        ladder.shutdownTimeoutMs = 1000
        ladder.forceOff = forceOff
        fp.migration.ladder = ladder
        fp.migration.undefineSource = undefineSource
        fp.migration.timeout = .fixed(milliseconds: 60_000) // a safety net; the ladder acts first
        let plan = try fp.planFile()
        #expect(plan.problems.isEmpty, "\(plan.problems)")
        return (fp, plan)
    }

    static func busyWorld(_ fp: FakePlan) -> FakeHypervisor {
        let world = fp.world()
        world.setFault(guest: "busy", .dirties(remaining: 64 * mib, bytesPerSec: 8 * mib))
        return world
    }

    struct Run {
        var result: RunResult
        var events: [StepEvent]
        var shown: [StepChange]
        var busy: StepRecord? { result.steps.first { $0.guest == "busy" } }
    }

    func apply(_ plan: PlanFile, _ world: FakeHypervisor) async throws -> Run {
        let dir = TempDir()
        let recorder = Recorder()
        let j = try SQLiteJournal(path: JournalLocation.journalPath(for: plan, stateDirectory: dir.path), plan: plan)
        defer { j.close() }
        let result = await Executor(plan: plan, hypervisor: world, journal: j, observer: recorder).apply()
        let id = try #require(result.steps.first { $0.guest == "busy" }?.id)
        let events = try JournalStatus.events(path: j.path, kind: .apply, id: id)
        return Run(result: result, events: events, shown: recorder.changes)
    }

    @Test func aGuestThatDoesNotConvergeIsMovedOffline() async throws {
        let (fp, plan) = try Self.plan()
        let world = Self.busyWorld(fp)
        let r = try await apply(plan, world)
        #expect(r.busy?.state == .done, "\(r.result.steps)")
        #expect(r.busy?.reason?.contains("moved offline") == true, "\(r.busy?.reason ?? "")")
        #expect(world.whereIs(uuid: FakePlan.uuid("busy")) == ["t1": .running])
        #expect(world.whereIs(uuid: FakePlan.uuid("idle")) == ["t1": .running])
        let uuid = FakePlan.uuid("busy")
        #expect(
            world.powerCalls == [
                .init(kind: .shutdown, uuid: uuid, host: "s1"), .init(kind: .start, uuid: uuid, host: "t1"),
            ])
        // The live attempt, then the definition's move.
        #expect(world.requests.filter { $0.guestName == "busy" }.map(\.mode) == [.live, .offline])
        // Every sub-step an event of the running step, written before it was done, in order.
        let offline = r.events.filter { $0.message.hasPrefix(OfflineMove.marker) }.map(\.message)
        #expect(offline.count == 4, "\(offline)")
        let order = [
            "not converging", "shutting down busy on s1", "moving the definition of busy to t1", "starting busy on t1",
        ]
        for (m, start) in zip(offline, order) {
            #expect(m.dropFirst(OfflineMove.marker.count).hasPrefix(start), "\(m)")
        }
        #expect(r.events.filter { $0.message.hasPrefix(OfflineMove.marker) }.allSatisfy { $0.to == "running" })
        #expect(r.shown.contains { $0.message.contains("shutting down busy on s1 (ACPI, up to 1s; no force-off)") })
    }

    @Test func aGuestThatIgnoresTheShutdownStaysWithoutForceOff() async throws {
        let (fp, plan) = try Self.plan()
        let world = Self.busyWorld(fp)
        world.setIgnoresShutdown(guest: "busy", true)
        let r = try await apply(plan, world)
        #expect(r.busy?.state == .failed, "\(r.result.steps)")
        #expect(r.busy?.reason?.contains("did not shut down within 1s") == true, "\(r.busy?.reason ?? "")")
        #expect(r.busy.map(OfflineMove.isMarked) == false, "a failure a resume leaves alone: the guest runs")
        #expect(world.whereIs(uuid: FakePlan.uuid("busy")) == ["s1": .running])
        #expect(world.powerCalls.map(\.kind) == [.shutdown])
        #expect(r.result.status == .partial)
    }

    @Test func forceOffDestroysAGuestThatIgnoresTheShutdown() async throws {
        let (fp, plan) = try Self.plan(forceOff: true)
        let world = Self.busyWorld(fp)
        world.setIgnoresShutdown(guest: "busy", true)
        let r = try await apply(plan, world)
        #expect(r.busy?.state == .done, "\(r.result.steps)")
        #expect(world.powerCalls.map(\.kind) == [.shutdown, .destroy, .start])
        #expect(world.whereIs(uuid: FakePlan.uuid("busy")) == ["t1": .running])
    }

    @Test func theSourceKeepsAnInactiveDefinitionWhereThePlanSaysSo() async throws {
        let (fp, plan) = try Self.plan(undefineSource: false)
        let world = Self.busyWorld(fp)
        let r = try await apply(plan, world)
        #expect(r.busy?.state == .done, "\(r.result.steps)")
        #expect(world.whereIs(uuid: FakePlan.uuid("busy")) == ["s1": .shutoff, "t1": .running])
        #expect(!world.powerCalls.contains { $0.kind == .undefine })
    }

    @Test func theNextSubStepComesFromWhereTheGuestIs() {
        func next(_ s: GuestPresence, _ t: GuestPresence, keeps: Bool = false) -> OfflineMove.Next {
            OfflineMove.next(source: s, target: t, keepsSource: keeps, guest: "g")
        }
        let running = GuestPresence.present(state: .running, persistent: true)
        let off = GuestPresence.present(state: .shutoff, persistent: true)
        #expect(next(running, .absent) == .shutdown)
        #expect(next(off, .absent) == .move)
        #expect(next(off, off) == .undefineSource, "defined on both: the source's goes before the start")
        #expect(next(off, off, keeps: true) == .start)
        #expect(next(.absent, off) == .start)
        #expect(next(.absent, running) == .done)
        #expect(next(off, running) == .undefineSource)
        #expect(next(off, running, keeps: true) == .done)
        if case .attention = next(running, off) {} else { Issue.record("active on the source, defined on the target") }
        if case .attention = next(.absent, .absent) {} else { Issue.record("on neither host") }
    }

    /// kill -9 at every journal write of the apply, then resume: the guest ends running on its
    /// target only, started there at most once, the journal done.
    @Test func killedAtEveryWriteThenResumed() async throws {
        let (fp, plan) = try Self.plan()
        let total = try await CrashEnumerationTests.writes(plan, Self.busyWorld(fp), TempDir()) { await $0.apply() }
        #expect(total >= 8, "the offline move writes each sub-step: \(total)")
        let uuid = FakePlan.uuid("busy")
        // Group commit merges concurrent writes: a run may write fewer times than the counted
        // one, and a late k then does not crash it (the end state is checked all the same).
        var crashes = 0
        for k in 1...total {
            let dir = TempDir()
            let world = Self.busyWorld(fp)
            let (crashed, _) = try await CrashEnumerationTests.life(plan, world, dir, crashAt: k) { await $0.apply() }
            if crashed { crashes += 1 }
            let (_, resumed) = try await CrashEnumerationTests.life(plan, world, dir, crashAt: nil) {
                await $0.resume()
            }
            #expect(resumed.status == .allDone, "crash at \(k): \(resumed.message ?? "") \(resumed.steps)")
            #expect(world.whereIs(uuid: uuid) == ["t1": .running], "crash at \(k): \(world.whereIs(uuid: uuid))")
            #expect(world.powerCalls.filter { $0.kind == .start }.count <= 1, "crash at \(k): \(world.powerCalls)")
            #expect(world.whereIs(uuid: FakePlan.uuid("idle")) == ["t1": .running], "crash at \(k)")
        }
        #expect(crashes >= total - 2, "\(crashes) of \(total) lives crashed")
        print("offline fallback: killed at \(crashes) of \(total) journal writes, every one resumed to the target")
    }
}
