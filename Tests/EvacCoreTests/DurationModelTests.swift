import Foundation
import Testing

@testable import EvacCore

private let mib = 1_048_576.0

private func options(
    bandwidthMiB: UInt64 = 100, downtimeMs: UInt64 = 300, timeoutMs: UInt64? = nil,
    postCopy: MigrationOptions.PostCopy = .never, compression: Bool = false,
    autoConverge: MigrationOptions.AutoConverge? = nil
) -> MigrationOptions {
    var o = MigrationOptions()
    o.bandwidthBytesPerSec = bandwidthMiB << 20
    o.maxDowntimeMs = downtimeMs
    o.timeout = timeoutMs.map { .fixed(milliseconds: $0) }
    o.postCopy = postCopy
    o.compression = compression
    o.autoConverge = autoConverge
    return o
}

/// The model's mechanics as first written (the baseline `scripts/bench-convergence` still
/// reports); the lab's refinements are tested in `DurationModelRefinementTests`.
private func model(setupMs: Double = 500) -> DurationModel {
    var m = DurationModel()
    m.setupMs = setupMs
    m.refinements = .baseline
    return m
}

private func guest(
    memMiB: UInt64, dirtyMiB: UInt64? = nil, storageMiB: UInt64 = 0, mode: MigrationOptions.Mode = .live
)
    -> DurationModel.Migration
{
    DurationModel.Migration(
        memoryBytes: memMiB << 20, dirtyBytesPerSec: dirtyMiB.map { $0 << 20 }, storageBytes: storageMiB << 20,
        mode: mode)
}

@Suite struct DurationModelTests {
    @Test func anIdleGuestTakesSetupPlusOnePassOfItsMemory() {
        let p = model().predict(guest(memMiB: 1024), options: options())
        #expect(p.outcome == .converges)
        #expect(p.passes == 1)
        #expect(abs(p.durationMs - (500 + 10_240)) < 0.001)
        #expect(p.downtimeMs == 0)
    }

    /// 1 GiB at 100 MiB/s dirtied at 50 MiB/s: passes of 1024, 512, 256, 128, 64, 32 MiB, and the
    /// 16 MiB left then fit in 300 ms (160 ms): the stop-and-copy pass.
    @Test func aDirtyingGuestResendsWhatItDirtiedUntilTheRestFitsTheDowntime() {
        let p = model().predict(guest(memMiB: 1024, dirtyMiB: 50), options: options())
        #expect(p.outcome == .converges)
        #expect(p.passes == 6)
        let sent = [1024.0, 512, 256, 128, 64, 32].reduce(0, +)
        #expect(abs(p.durationMs - (500 + sent * 10 + 160)) < 0.001)
        #expect(abs(p.downtimeMs - 160) < 0.001)
        let idle = model().predict(guest(memMiB: 1024), options: options())
        #expect(p.durationMs > idle.durationMs)
    }

    @Test func aGuestDirtyingFasterThanTheLinkNeverConvergesWithoutARemedy() {
        let m = model()
        let g = guest(memMiB: 1024, dirtyMiB: 150)
        let never = m.predict(g, options: options())
        #expect(never.outcome == .neverEnds)
        #expect(!never.outcome.convergesByPreCopy)
        // What is left is all of memory: 10.24 s at 100 MiB/s.
        #expect(abs((never.downtimeNeededMs ?? 0) - 10_240) < 0.001)
        let remedy = DurationModel.remedy(never, options: options()) ?? ""
        #expect(remedy.contains("raise migration.max-downtime to 10240ms"), "\(remedy)")
        #expect(remedy.contains("nothing in the plan ends it"))
        // The remedy it names works.
        #expect(m.predict(g, options: options(downtimeMs: 10_240)).outcome == .converges)

        let aborted = m.predict(g, options: options(timeoutMs: 60_000))
        #expect(aborted.outcome == .abortedAtTimeout)
        #expect(aborted.durationMs == 60_000)
        #expect(DurationModel.remedy(aborted, options: options())?.contains("the timeout aborts it") == true)

        let post = m.predict(g, options: options(postCopy: .afterFirstPass))
        #expect(post.outcome == .postCopy)
        // Pass 0, then every page (all were dirtied) once more in post-copy.
        #expect(abs(post.durationMs - (500 + 10_240 + 10_240)) < 0.001)

        let late = m.predict(g, options: options(timeoutMs: 30_000, postCopy: .onTimeout))
        #expect(late.outcome == .postCopy)
        #expect(abs(late.durationMs - (30_000 + 10_240)) < 0.001)
    }

    @Test func compressionAndAutoConvergeBringABorderlineGuestAcross() {
        let m = model()
        let g = guest(memMiB: 1024, dirtyMiB: 120)
        #expect(m.predict(g, options: options()).outcome == .neverEnds)
        // XBZRLE: re-sent pages at twice the rate, 120 < 200 MiB/s.
        #expect(m.predict(g, options: options(compression: true)).outcome == .converges)
        let throttled = m.predict(g, options: options(autoConverge: .init(initial: 20, increment: 10)))
        #expect(throttled.outcome == .autoConverge)
        #expect(throttled.outcome.convergesByPreCopy == false, "named in the report, with what evac does about it")
        #expect(DurationModel.remedy(throttled, options: options())?.contains("auto-converge") == true)
    }

    @Test func aConvergingMigrationLongerThanTheTimeoutIsAbortedByIt() {
        let p = model().predict(guest(memMiB: 4096), options: options(timeoutMs: 10_000))
        #expect(p.outcome == .abortedAtTimeout)
        #expect(p.durationMs == 10_000)
    }

    @Test func pausedGuestsDirtyNothingOfflineOnesMoveADefinitionStorageGoesFirst() {
        let m = model()
        let paused = m.predict(guest(memMiB: 1024, dirtyMiB: 500, mode: .paused), options: options())
        #expect(paused.outcome == .converges && paused.passes == 1)
        #expect(abs(paused.durationMs - 10_740) < 0.001)
        let offline = m.predict(guest(memMiB: 1024, dirtyMiB: 500, mode: .offline), options: options())
        #expect(offline.durationMs == m.offlineMs && offline.passes == 0)
        let disks = m.predict(guest(memMiB: 1024, storageMiB: 2048), options: options())
        #expect(abs(disks.durationMs - (500 + 20_480 + 10_240)) < 0.001)
    }

    @Test func parallelConnectionsRaiseAPerConnectionCeilingButNeverPassTheCap() {
        var m = model()
        m.connectionBytesPerSec = 40 << 20
        var o = options(bandwidthMiB: 100)
        #expect(m.bandwidth(o) == 40 * mib)
        o.parallelConnections = 2
        #expect(m.bandwidth(o) == 80 * mib)
        o.parallelConnections = 8
        #expect(m.bandwidth(o) == 100 * mib)
        o.bandwidthBytesPerSec = nil
        m.assumedBandwidthBytesPerSec = 1 << 30
        #expect(m.bandwidth(o) == 320 * mib)
    }

    @Test func extremeInputsGiveFiniteDurations() {
        let m = model()
        for g in [
            guest(memMiB: 1 << 30, dirtyMiB: 1 << 30), guest(memMiB: 0, dirtyMiB: 1 << 30),
            guest(memMiB: 1, dirtyMiB: 0),
        ] {
            for o in [
                options(bandwidthMiB: 1), options(bandwidthMiB: 1 << 20, downtimeMs: 1),
                options(autoConverge: .init(initial: 0, increment: 0)),
            ] {
                let p = m.predict(g, options: o)
                #expect(p.durationMs.isFinite && p.durationMs >= 0)
                #expect(p.passes <= m.maxPasses)
            }
        }
    }
}

/// What the model predicts for a guest the convergence ladder takes over.
@Suite struct DurationModelLadderTests {
    static let mib: UInt64 = 1 << 20
    func predict(_ ladder: ConvergenceLadder, bandwidthMiB: UInt64) -> DurationModel.Prediction {
        var o = MigrationOptions()
        o.bandwidthBytesPerSec = bandwidthMiB * Self.mib
        o.ladder = ladder
        var model = DurationModel()
        model.setupMs = 1000
        model.refinements = .baseline
        return model.predict(.init(memoryBytes: 64 * Self.mib, dirtyBytesPerSec: 58 * Self.mib), options: o)
    }

    @Test func aDowntimeRungThatHoldsWhatIsLeft() {
        // 32 MiB/s: pass 0 takes 2 s and leaves all 64 MiB dirty, a 2 s pause; rungs 1200, 2100, 3000 ms.
        let p = predict(ConvergenceLadder(stallPasses: 1, maxDowntimeCapMs: 3000, downtimeSteps: 3), bandwidthMiB: 32)
        #expect(p.outcome == .ladder)
        // set-up 1 s + pass 0 2 s; pre-copy's own stall check sent no second pass; rung 1 after
        // 1 pass (2 s), rung 2 after 2 more (4 s), then the 2 s pause.
        #expect(p.durationMs == 1000 + 2000 + 2000 + 4000 + 2000)
        #expect(p.downtimeMs == 2000)
    }

    @Test func postCopyOrTheFallbackWhenNoCapHoldsIt() {
        // 8 MiB/s: 64 MiB left need 8 s of pause; a 2 s cap cannot, so straight to post-copy.
        let pc = predict(ConvergenceLadder(stallPasses: 2, maxDowntimeCapMs: 2000, postCopy: true), bandwidthMiB: 8)
        #expect(pc.outcome == .ladder)
        #expect(pc.durationMs == 1000 + 8000 + 2 * 8000 + 8000)
        let paused = predict(ConvergenceLadder(stallPasses: 1, fallback: .retryPaused), bandwidthMiB: 8)
        #expect(paused.outcome == .ladder)
        #expect(paused.durationMs == 1000 + 8000 + 8000 + 1000 + 8000)
        let skipped = predict(ConvergenceLadder(stallPasses: 1, fallback: .skip), bandwidthMiB: 8)
        #expect(skipped.outcome == .ladderFallback)
        #expect(DurationModel.remedy(skipped, options: MigrationOptions())?.isEmpty != false)
    }
}

/// The lab's refinements of the model (BENCHMARKS.md "Duration model and convergence ladder"):
/// the lab's dirtier (64 MiB, 58 MiB rewritten in milliseconds, page-sampled at 58 MiB/s).
@Suite struct DurationModelRefinementTests {
    static let mib: UInt64 = 1 << 20
    func predict(
        memMiB: UInt64 = 64, dirtyMiB: UInt64 = 58, residentMiB: UInt64? = nil, bandwidthMiB: UInt64,
        ladder: ConvergenceLadder? = nil, refinements: DurationModel.Refinements = .measured
    ) -> DurationModel.Prediction {
        var o = MigrationOptions()
        o.bandwidthBytesPerSec = bandwidthMiB * Self.mib
        o.ladder = ladder
        var model = DurationModel()
        model.setupMs = 500
        model.refinements = refinements
        let m = DurationModel.Migration(
            memoryBytes: memMiB * Self.mib, dirtyBytesPerSec: dirtyMiB * Self.mib,
            residentBytes: residentMiB.map { $0 * Self.mib })
        return model.predict(m, options: o)
    }

    @Test func passZeroSendsWhatTheGuestTouched() {
        // 128 MiB configured, its QEMU resident at 96 MiB: 64 MiB of guest pages (less QEMU's
        // own 32 MiB), sent at 16 MiB/s in 4 s; an idle guest, so that is all.
        let touched = predict(memMiB: 128, dirtyMiB: 0, residentMiB: 96, bandwidthMiB: 16)
        #expect(abs(touched.durationMs - (500 + 4000)) < 0.5)
        let unread = predict(memMiB: 128, dirtyMiB: 0, bandwidthMiB: 16)
        #expect(abs(unread.durationMs - (500 + 8000)) < 0.5, "no resident figure: all configured memory")
        let baseline = predict(memMiB: 128, dirtyMiB: 0, residentMiB: 96, bandwidthMiB: 16, refinements: .baseline)
        #expect(abs(baseline.durationMs - (500 + 8000)) < 0.5)
        // Never less than what it dirties in a sampling period, never more than its memory.
        let hot = predict(memMiB: 128, dirtyMiB: 58, residentMiB: 40, bandwidthMiB: 1024)
        #expect(hot.outcome == .converges)
        #expect(abs(hot.durationMs - (500 + 58_000 / 1024.0)) < 1, "\(hot)")
        let all = predict(memMiB: 64, dirtyMiB: 0, residentMiB: 4096, bandwidthMiB: 16)
        #expect(abs(all.durationMs - (500 + 4000)) < 0.5)
    }

    @Test func aHotSetThatShortPassesCannotShrinkStalls() {
        // 128 MiB/s: r < B, so by rate × time the passes would shrink; but every pass leaves
        // the 58 MiB the sampler saw in a second.
        let stuck = predict(bandwidthMiB: 128)
        #expect(stuck.outcome == .neverEnds, "\(stuck)")
        #expect(stuck.passes == 2, "the second pass left as much as the first: stalled")
        // By rate × time pass 0 (0.5 s) would have left 29 MiB, which fit 300 ms.
        let rateTimesTime = predict(bandwidthMiB: 128, refinements: .baseline)
        #expect(rateTimesTime.outcome == .converges && rateTimesTime.passes == 1)
    }

    @Test func aGuestDirtyingLittleConverges() {
        // 1 GiB dirtied at 2 MiB/s over 100 MiB/s: pass 0 sends down to the 30 MiB that fit
        // 300 ms; the 20 MiB dirtied meanwhile fit too: the rest goes in the pause.
        let p = predict(memMiB: 1024, dirtyMiB: 2, bandwidthMiB: 100)
        #expect(p.outcome == .converges && p.passes == 1, "\(p)")
        #expect(abs(p.durationMs - (500 + 9940 + 300)) < 0.5)
    }

    @Test func aRaisedDowntimeEndsTheMigrationAtOnceAndShortensPasses() {
        // 128 MiB/s, ladder cap 1150 ms: pass 0 sends 64 MiB down to the 38.4 MiB that fit
        // 300 ms (0.2 s), which leaves the 58 MiB dirtied; pass 1 the same, stalled: the first
        // rung (stall-passes 1) is taken then, and 58 MiB fit 1150 ms at once: a 453 ms pause.
        let ladder = ConvergenceLadder(stallPasses: 1, maxDowntimeCapMs: 1150, downtimeSteps: 1)
        let p = predict(bandwidthMiB: 128, ladder: ladder)
        #expect(p.outcome == .ladder)
        let expected = 500 + (64 - 38.4) / 128 * 1000 + (58 - 38.4) / 128 * 1000 + 58.0 / 128 * 1000
        #expect(abs(p.durationMs - expected) < 0.5, "\(p.durationMs) vs \(expected)")
        // 32 MiB/s, rungs 1150 and 2000 ms: passes of (64 − 9.6) MiB, then, under 1150 ms, of
        // (64 − 36.8) MiB; the 2 s pause once 2000 ms holds all 64 MiB.
        let two = predict(
            bandwidthMiB: 32, ladder: ConvergenceLadder(stallPasses: 1, maxDowntimeCapMs: 2000, downtimeSteps: 2))
        #expect(two.outcome == .ladder)
        #expect(abs(two.durationMs - (500 + 1700 + 1700 + 2 * 850 + 2000)) < 0.5, "\(two.durationMs)")
        let before = predict(
            bandwidthMiB: 32, ladder: ConvergenceLadder(stallPasses: 1, maxDowntimeCapMs: 2000, downtimeSteps: 2),
            refinements: .baseline)
        #expect(abs(before.durationMs - (500 + 2000 + 2000 + 2 * 2000 + 2000)) < 0.5)
    }
}
