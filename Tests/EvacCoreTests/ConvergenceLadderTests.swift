import EvacCore
import Testing

/// The convergence ladder's decisions on values: when a migration counts as stalled, which
/// rung comes next (the plan language for it: EvacCLITests/LadderPlanTests).
@Suite struct ConvergenceLadderTests {
    /// A pass boundary: libvirt's memory_iteration `i` with `mib` MiB left at `rateMiB` MiB/s.
    func pass(_ i: UInt64, _ mib: UInt64, rateMiB: UInt64 = 8) -> MigrationProgress {
        MigrationProgress(dataRemaining: mib << 20, memoryBps: rateMiB << 20, iteration: i)
    }

    /// Feeds passes 1… with what is left at each; the rungs taken, by pass.
    func climb(_ c: inout LadderClimb, left: [UInt64], rateMiB: UInt64 = 8) -> [UInt64: LadderClimb.Rung] {
        var out: [UInt64: LadderClimb.Rung] = [:]
        for (k, mib) in left.enumerated() {
            // Several samples per pass, as libvirt's job statistics come: only the boundary counts.
            for _ in 0..<3 {
                if let s = c.observe(pass(UInt64(k + 1), mib, rateMiB: rateMiB)) { out[UInt64(k + 1)] = s.rung }
            }
        }
        return out
    }

    @Test func downtimeRungsThenPostCopyThenNothing() {
        let ladder = ConvergenceLadder(stallPasses: 2, maxDowntimeCapMs: 3300, downtimeSteps: 3, postCopy: true)
        var c = LadderClimb(ladder: ladder, baseDowntimeMs: 300, postCopyAllowed: true)
        // 20 MiB left every pass at 8 MiB/s: needs 2.5 s, which the cap of 3.3 s can hold.
        // Two stalled passes a rung; the pass after each rung is not judged.
        let rungs = climb(&c, left: Array(repeating: 20, count: 16))
        #expect(
            rungs == [
                4: .raiseDowntime(fromMs: 300, toMs: 1300), 7: .raiseDowntime(fromMs: 1300, toMs: 2300),
                10: .raiseDowntime(fromMs: 2300, toMs: 3300), 13: .postCopy,
            ])
        #expect(c.downtimeMs == 3300)
        #expect(c.finished)
    }

    @Test func progressResetsTheStallCount() {
        var c = LadderClimb(
            ladder: ConvergenceLadder(stallPasses: 2, maxDowntimeCapMs: 1000), baseDowntimeMs: 300,
            postCopyAllowed: false)
        // Each pass leaves clearly less: converging by itself, no rung.
        #expect(climb(&c, left: [64, 40, 30, 20, 12, 6, 3]).isEmpty)
        // 96 % of the best is no progress; 90 % is.
        var d = LadderClimb(
            ladder: ConvergenceLadder(stallPasses: 1, maxDowntimeCapMs: 1000), baseDowntimeMs: 300,
            postCopyAllowed: false)
        #expect(climb(&d, left: [64, 50, 45].map { $0 * 100 }).isEmpty)
        var e = LadderClimb(
            ladder: ConvergenceLadder(stallPasses: 1, maxDowntimeCapMs: 1000), baseDowntimeMs: 300,
            postCopyAllowed: false)
        #expect(climb(&e, left: [6400, 5000, 4800]).keys.sorted() == [3])
    }

    @Test func aCapThatCannotHoldWhatIsLeftIsSkipped() {
        let ladder = ConvergenceLadder(stallPasses: 1, maxDowntimeCapMs: 2000, postCopy: true)
        var c = LadderClimb(ladder: ladder, baseDowntimeMs: 300, postCopyAllowed: true)
        // 58 MiB at 8 MiB/s needs ~7.3 s: straight to post-copy, saying why.
        _ = c.observe(pass(1, 64))
        _ = c.observe(pass(2, 58))
        let step = c.observe(pass(3, 58))
        #expect(step?.rung == .postCopy)
        #expect(step?.note?.contains("max-downtime 2000ms could not hold it") == true, "\(step?.note ?? "")")
        #expect(step?.text.hasPrefix("ladder: switching to post-copy (not converging: 58 MiB left at pass 3") == true)
    }

    @Test func withoutPostCopyTheFallbackEndsIt() {
        for fallback in ConvergenceLadder.Fallback.allCases {
            let ladder = ConvergenceLadder(stallPasses: 1, maxDowntimeCapMs: 600, downtimeSteps: 1, fallback: fallback)
            // The plan allows post-copy elsewhere, the ladder does not: never post-copy.
            var c = LadderClimb(ladder: ladder, baseDowntimeMs: 300, postCopyAllowed: true)
            let rungs = climb(&c, left: [64, 1, 1, 1, 1, 1], rateMiB: 4)
            #expect(rungs == [3: .raiseDowntime(fromMs: 300, toMs: 600), 5: .fallback(fallback)], "\(fallback)")
        }
    }

    @Test func aRefusedPostCopyFallsBackAtTheNextStall() {
        let ladder = ConvergenceLadder(stallPasses: 1, postCopy: true, fallback: .skip)
        var c = LadderClimb(ladder: ladder, baseDowntimeMs: 300, postCopyAllowed: true)
        #expect(climb(&c, left: [64, 58, 58]) == [3: .postCopy])
        c.postCopyRefused()
        #expect(c.observe(pass(4, 58)) == nil, "the pass of the refused switch is not judged")
        #expect(c.observe(pass(5, 58))?.rung == .fallback(.skip))
        #expect(c.observe(pass(6, 58)) == nil)
    }

    @Test func postCopyNotEnabledIsNotTaken() {
        let ladder = ConvergenceLadder(stallPasses: 1, postCopy: true, fallback: .stop)
        var c = LadderClimb(ladder: ladder, baseDowntimeMs: 300, postCopyAllowed: false)
        #expect(climb(&c, left: [64, 58, 58]) == [3: .fallback(.stop)])
    }

    @Test func downtimeRungsAreEvenStepsToTheCap() {
        #expect(
            ConvergenceLadder(maxDowntimeCapMs: 2000, downtimeSteps: 4).downtimeRungs(base: 400) == [
                800, 1200, 1600, 2000,
            ])
        #expect(ConvergenceLadder(maxDowntimeCapMs: 300).downtimeRungs(base: 300) == [])
        #expect(ConvergenceLadder().downtimeRungs(base: 300) == [])
    }
}
