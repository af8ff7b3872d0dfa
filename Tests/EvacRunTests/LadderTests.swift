import EvacCore
import EvacFake
import Foundation
import Testing

@testable import EvacRun

/// The convergence ladder applied by the executor to a busy guest of the fault-injection fake
/// (each pass leaves the same bytes; it converges once they fit in the max downtime, or in
/// post-copy, or paused): every rung journaled as an event of the running step and shown,
/// then done, and each fallback ends the step as the plan says.
@Suite struct LadderTests {
    static let mib: UInt64 = 1 << 20

    struct Run {
        var result: RunResult
        var world: FakeHypervisor
        var events: [String: [StepEvent]]
        var shown: [StepChange]
        func step(_ guest: String) -> StepRecord? { result.steps.first { $0.guest == guest } }
        func ladder(_ guest: String) -> [String] {
            (events[guest] ?? []).map(\.message).filter { $0.hasPrefix("ladder: ") }
        }
    }

    /// Runs `moves` (each guest busy: `left` MiB a pass at 8 MiB/s, unless idle) under `ladder`.
    func run(
        _ ladder: ConvergenceLadder, left: UInt64, guests: [String] = ["busy"], idle: [String] = [], total: Int = 4,
        postCopy: MigrationOptions.PostCopy = .never
    ) async throws -> Run {
        let dir = TempDir()
        var fp = FakePlan(
            moves: (guests + idle).map { FakePlan.Move($0, from: "s1", to: "t1") })
        fp.total = total
        fp.perSource = total
        fp.perTarget = total
        fp.migration.ladder = ladder
        fp.migration.postCopy = postCopy
        fp.migration.timeout = .fixed(milliseconds: 60_000) // a safety net; the ladder acts first
        let plan = try fp.planFile()
        #expect(plan.problems.isEmpty, "\(plan.problems)")
        let world = fp.world()
        for g in guests { world.setFault(guest: g, .dirties(remaining: left * Self.mib, bytesPerSec: 8 * Self.mib)) }
        let recorder = Recorder()
        let j = try SQLiteJournal(path: JournalLocation.journalPath(for: plan, stateDirectory: dir.path), plan: plan)
        defer { j.close() }
        let result = await Executor(plan: plan, hypervisor: world, journal: j, observer: recorder).apply()
        var events: [String: [StepEvent]] = [:]
        for s in result.steps { events[s.guest] = try JournalStatus.events(path: j.path, kind: .apply, id: s.id) }
        return Run(result: result, world: world, events: events, shown: recorder.changes)
    }

    @Test func raisingTheDowntimeMakesItConverge() async throws {
        // 20 MiB at 8 MiB/s need 2.5 s of downtime: the third rung (3.3 s) holds it.
        let r = try await run(ConvergenceLadder(stallPasses: 1, maxDowntimeCapMs: 3300, downtimeSteps: 3), left: 20)
        #expect(r.step("busy")?.state == .done, "\(r.result.steps)")
        #expect(r.world.downtimesSet[FakePlan.uuid("busy")] == [1300, 2300, 3300])
        #expect(
            r.ladder("busy").map { $0.components(separatedBy: " (")[0] } == [
                "ladder: max-downtime 300ms → 1300ms", "ladder: max-downtime 1300ms → 2300ms",
                "ladder: max-downtime 2300ms → 3300ms",
            ])
        // Journaled as events of the running step, and shown.
        let rungEvents = (r.events["busy"] ?? []).filter { $0.message.hasPrefix("ladder: ") }
        #expect(rungEvents.allSatisfy { $0.from == "running" && $0.to == "running" })
        #expect(r.shown.filter { $0.message.hasPrefix("ladder: ") }.count == 3)
        #expect(r.world.postCopyRequests.isEmpty)
    }

    @Test func postCopyWhenNoDowntimeCanHoldIt() async throws {
        // 58 MiB at 8 MiB/s need ~7.3 s: the 2 s cap cannot help, post-copy is next.
        let r = try await run(
            ConvergenceLadder(stallPasses: 1, maxDowntimeCapMs: 2000, postCopy: true, fallback: .abort), left: 58)
        #expect(r.step("busy")?.state == .done, "\(r.result.steps)")
        #expect(r.world.downtimesSet[FakePlan.uuid("busy")] == nil)
        #expect(r.world.postCopyRequests == [FakePlan.uuid("busy")])
        let steps = r.ladder("busy")
        #expect(steps.count == 1 && steps[0].hasPrefix("ladder: switching to post-copy"), "\(steps)")
        #expect(steps.first?.contains("max-downtime 2000ms could not hold it") == true)
        #expect(r.world.requests.first?.options.postCopyEnabled == true, "started with post-copy enabled")
    }

    @Test func fallbackAbortFailsTheStep() async throws {
        let r = try await run(ConvergenceLadder(stallPasses: 1, maxDowntimeCapMs: 600, downtimeSteps: 1), left: 58)
        #expect(r.step("busy")?.state == .failed)
        #expect(r.step("busy")?.reason?.hasPrefix("not converging, fallback abort: ladder: fallback abort") == true)
        #expect(r.world.whereIs(uuid: FakePlan.uuid("busy")) == ["s1": .running], "the guest stays on its source")
    }

    @Test func fallbackRetryPausedMovesItPaused() async throws {
        let r = try await run(ConvergenceLadder(stallPasses: 1, fallback: .retryPaused), left: 58)
        #expect(r.step("busy")?.state == .done, "\(r.result.steps)")
        #expect(r.world.requests.map(\.mode) == [.live, .paused])
        #expect(r.step("busy")?.attempt == 2)
        #expect(r.world.whereIs(uuid: FakePlan.uuid("busy")) == ["t1": .running])
        let messages = (r.events["busy"] ?? []).map(\.message)
        #expect(messages.contains { $0.contains("moving it again paused") }, "\(messages)")
        #expect(messages.contains { $0.contains("(paused: the convergence ladder's fallback)") }, "\(messages)")
    }

    @Test func fallbackSkipLeavesTheGuestAndGoesOn() async throws {
        let r = try await run(ConvergenceLadder(stallPasses: 1, fallback: .skip), left: 58, idle: ["idle"], total: 1)
        #expect(r.step("busy")?.state == .skipped)
        #expect(r.step("busy")?.reason == "not converging; skipped, the guest stays on s1")
        #expect(r.step("idle")?.state == .done, "the drain goes on")
        #expect(r.world.whereIs(uuid: FakePlan.uuid("busy")) == ["s1": .running])
    }

    @Test func fallbackStopStartsNothingMore() async throws {
        // One at a time, the busy guest first (the larger name sorts after: give it more memory).
        let r = try await run(ConvergenceLadder(stallPasses: 1, fallback: .stop), left: 58, idle: ["idle"], total: 1)
        let busy = try #require(r.step("busy"))
        let idle = try #require(r.step("idle"))
        #expect(busy.state == .failed)
        #expect(busy.reason?.contains("the run starts no more migrations") == true)
        // Whichever ran first: the idle one is done if it went before, else it never started.
        if idle.state != .done {
            #expect(idle.state == .pending && r.world.migrationCounts[FakePlan.uuid("idle")] == nil)
        }
        #expect(r.result.status != .allDone)
    }

    @Test func aPlanWithoutALadderIsUntouched() async throws {
        let dir = TempDir()
        var fp = FakePlan(moves: [.init("busy", from: "s1", to: "t1")])
        fp.migration.progressTimeoutMs = 1000
        fp.migration.timeout = .fixed(milliseconds: 1000)
        let plan = try fp.planFile()
        let world = fp.world()
        world.setFault(guest: "busy", .dirties(remaining: 58 * Self.mib, bytesPerSec: 8 * Self.mib))
        let j = try SQLiteJournal(path: JournalLocation.journalPath(for: plan, stateDirectory: dir.path), plan: plan)
        defer { j.close() }
        let result = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        #expect(result.steps.first?.reason == "timed out after 1s")
        #expect(world.downtimesSet.isEmpty && world.postCopyRequests.isEmpty)
    }
}
