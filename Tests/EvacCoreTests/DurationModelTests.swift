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

private func model(setupMs: Double = 500) -> DurationModel {
    var m = DurationModel()
    m.setupMs = setupMs
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
