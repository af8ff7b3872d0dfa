import EvacCore
import EvacFake
import Testing

@testable import EvacRun

private let mib: UInt64 = 1 << 20
private let gib: UInt64 = 1 << 30

/// A libvirt-like job statistics sample (`virDomainGetJobStats` of a QEMU migration): `data_*`
/// is memory plus disk, as libvirt adds them up.
private func job(
    ms: UInt64, memTotal: UInt64, memSent: UInt64, memLeft: UInt64, constantPages: UInt64 = 0,
    diskTotal: UInt64 = 0, diskSent: UInt64 = 0, diskLeft: UInt64 = 0, iteration: UInt64 = 1,
    dirtyPages: UInt64 = 0, bps: UInt64 = 0
) -> MigrationProgress {
    var p = MigrationProgress(
        elapsedMs: ms, dataTotal: memTotal + diskTotal, dataProcessed: memSent + diskSent,
        dataRemaining: memLeft + diskLeft, memoryBps: bps, iteration: iteration, dirtyRate: dirtyPages)
    p.memoryTotal = memTotal
    p.memoryProcessed = memSent
    p.memoryRemaining = memLeft
    p.memoryConstantPages = constantPages
    p.pageSize = 4096
    p.diskTotal = diskTotal
    p.diskProcessed = diskSent
    p.diskRemaining = diskLeft
    return p
}

@Suite struct MigrationGaugeTests {
    /// The measured failure: a guest dirtying memory showed 100 % while 38–54 MiB were left.
    /// Sent bytes pass the total once dirtied pages go again; what is left does not lie.
    @Test func aDirtyingGuestIsNotDoneWhileDataIsLeft() {
        var g = MigrationGauge(expectedMemoryBytes: gib)
        g.add(job(ms: 9_000, memTotal: gib, memSent: 990 * mib, memLeft: 120 * mib, iteration: 1, bps: 110 * mib))
        // 2nd pass: 1.05 GiB sent (more than the guest has), 54 MiB dirtied and still to send.
        let pass2 = job(
            ms: 10_000, memTotal: gib, memSent: 1075 * mib, memLeft: 54 * mib, iteration: 2, dirtyPages: 5120,
            bps: 85 * mib)
        #expect(pass2.percent == 100, "libvirt's own ratio: the old display's 100 %")
        g.add(pass2)
        #expect(g.remainingBytes == 54 * mib)
        #expect(g.percent == 94) // (1024 - 54) / 1024, floored
        // 85 MiB sent in the last second, while the guest dirties 20 MiB/s (5120 4-KiB pages).
        #expect(g.rateBytesPerSec == Double(85 * mib))
        #expect(g.dirtyBytesPerSec == Double(20 * mib))
        #expect(g.converging)
        // 54 MiB at 85 − 20 MiB/s net.
        #expect(g.remainingMs == Double(54 * mib) * 1000 / Double(65 * mib))
        // Dirtying faster than the copy: no time to promise.
        g.add(job(ms: 11_000, memTotal: gib, memSent: 1085 * mib, memLeft: 60 * mib, iteration: 3, dirtyPages: 5120))
        #expect(g.rateBytesPerSec == Double(10 * mib))
        #expect(!g.converging)
        #expect(g.remainingMs == nil)
        #expect(g.percent == 94)
        // The last pass sent: 100 % only now.
        g.add(job(ms: 11_500, memTotal: gib, memSent: 1145 * mib, memLeft: 0, iteration: 4))
        #expect(g.percent == 100)
        #expect(g.remainingMs == 0)
    }

    /// The measured failure: idle guests showed 0 % and 0 MiB/s until done. Their pages are
    /// zero pages, sent as a few bytes each: `memory_processed` barely moves, the memory left
    /// falls, and the rate counts the pages covered.
    @Test func anIdleGuestMovesAndHasARate() {
        var g = MigrationGauge(expectedMemoryBytes: 512 * mib)
        let first = job(ms: 200, memTotal: 512 * mib, memSent: mib, memLeft: 384 * mib, constantPages: 32_512)
        #expect(first.percent < 1, "libvirt's ratio: 1 MiB of 512")
        g.add(first)
        #expect(g.percent == 25)
        // 1 MiB sent + 32,512 zero pages (127 MiB) in 0.2 s.
        #expect(g.rateBytesPerSec == Double(128 * mib) * 5)
        g.add(job(ms: 400, memTotal: 512 * mib, memSent: 2 * mib, memLeft: 128 * mib, constantPages: 97_792))
        #expect(g.percent == 75)
        // Δ: 1 MiB sent + 65,280 pages (255 MiB) in 0.2 s.
        #expect(g.rateBytesPerSec == Double(256 * mib) * 5)
        #expect(g.remainingMs == Double(128 * mib) * 1000 / (Double(256 * mib) * 5))
    }

    /// A storage copy goes first: libvirt reports disks, and no memory yet. What is left counts
    /// the guest's memory (from the plan) as well as the disk not copied.
    @Test func aStorageCopyCountsDisksAndTheMemoryStillToCome() {
        var g = MigrationGauge(expectedMemoryBytes: 512 * mib)
        g.add(job(ms: 4_000, memTotal: 0, memSent: 0, memLeft: 0, diskTotal: 2 * gib, diskSent: gib, diskLeft: gib))
        #expect(g.totalBytes == 2 * gib + 512 * mib)
        #expect(g.remainingBytes == gib + 512 * mib)
        #expect(g.percent == 40)
        #expect(g.rateBytesPerSec == Double(gib) / 4)
        g.add(
            job(
                ms: 9_000, memTotal: 512 * mib, memSent: 256 * mib, memLeft: 256 * mib, diskTotal: 2 * gib,
                diskSent: 2 * gib, diskLeft: 0))
        #expect(g.remainingBytes == 256 * mib)
        #expect(g.percent == 90)
        // Δ over 5 s: 1 GiB of disk and 256 MiB of memory.
        #expect(g.rateBytesPerSec == Double(gib + 256 * mib) / 5)
    }

    /// Samples without the memory/disk parts (older recorders, the fake hypervisor) read as memory.
    @Test func samplesWithoutPartsReadAsMemory() {
        var g = MigrationGauge()
        g.add(MigrationProgress(elapsedMs: 1000, dataTotal: gib, dataProcessed: gib, dataRemaining: gib / 4))
        #expect(g.percent == 75)
        #expect(g.remainingBytes == gib / 4)
    }

    /// A re-read of the same sample changes nothing; a clock that went back is a new attempt.
    @Test func repeatsAndNewAttempts() {
        var g = MigrationGauge()
        let a = job(ms: 1000, memTotal: gib, memSent: 100 * mib, memLeft: 900 * mib)
        let b = job(ms: 2000, memTotal: gib, memSent: 300 * mib, memLeft: 700 * mib)
        g.add(a)
        g.add(b)
        g.add(b)
        #expect(g.rateBytesPerSec == Double(200 * mib))
        g.add(job(ms: 500, memTotal: gib, memSent: 50 * mib, memLeft: 950 * mib))
        #expect(g.rateBytesPerSec == Double(100 * mib), "since the new attempt's start")
    }
}

@Suite struct RunForecastTests {
    /// Four 10 s migrations (predicted), two at a time: a, b in flight, c, d queued.
    func plan(total: Int = 2) -> RunForecast {
        let nodes = (1...4).map { i in
            MigrationGraph.Node(
                id: i,
                placement: Placement(
                    guest: "g\(i)", uuid: "u\(i)", source: "s\(i % 2)", target: "t\(i % 2)", memoryKiB: 1 << 20,
                    vcpus: 1, mode: .live))
        }
        return RunForecast(
            graph: MigrationGraph(nodes: nodes, limits: .init(total: total, perSource: 4, perTarget: 4)),
            predictedMs: [1: 10_000, 2: 10_000, 3: 10_000, 4: 10_000])
    }

    /// The measured failure: "ETA 1s" with two guests still queued. The queue counts.
    @Test func queuedMigrationsCountInTheETA() {
        let f = plan()
        let flying = [
            1: RunForecast.InFlight(elapsedMs: 9_000, remainingMs: 1_000),
            2: RunForecast.InFlight(elapsedMs: 9_000, remainingMs: 1_000),
        ]
        // Live rates match the model (9 + 1 = 10 s): 1 s for a and b, then c and d take 10 s.
        #expect(f.remainingMs(kind: .apply, settled: [], inFlight: flying, doneMs: [:]) == 11_000)
        // With nothing queued only the live remainder is left.
        #expect(f.remainingMs(kind: .apply, settled: [3, 4], inFlight: flying, doneMs: [:]) == 1_000)
    }

    /// Migrations that took twice their prediction scale the queue; the slot rules hold.
    @Test func theModelIsCorrectedByWhatTheRunShows() {
        let f = plan(total: 1)
        let ms = f.remainingMs(kind: .apply, settled: [1, 2], inFlight: [:], doneMs: [1: 20_000, 2: 20_000])
        #expect(ms == 40_000, "c then d, one at a time, 20 s each")
        #expect(f.correction(doneMs: [1: 20_000, 2: 20_000], inFlight: [:]) == 2)
        // One absurd figure is clamped, and the median ignores a lone outlier.
        #expect(f.correction(doneMs: [1: 1e9], inFlight: [:]) == 20)
        #expect(f.correction(doneMs: [1: 10_000, 2: 10_000, 3: 1e9], inFlight: [:]) == 1)
    }

    /// An in-flight migration with no rate yet (or not converging) is charged its corrected
    /// prediction less what it already ran.
    @Test func inFlightWithoutARateUsesThePrediction() {
        let f = plan()
        let flying = [1: RunForecast.InFlight(elapsedMs: 4_000, remainingMs: nil)]
        // a: 6 s more; b starts now with c queued behind whichever ends first.
        #expect(f.remainingMs(kind: .apply, settled: [4], inFlight: flying, doneMs: [:]) == 16_000)
    }

    /// The lab's measured case: a guest dirtying as fast as the cap copies, past its prediction.
    /// The ETA is then only a lower bound (shown "≥"), never a confident "2s".
    @Test func aMigrationThatDoesNotConvergeMakesTheETAALowerBound() {
        let f = plan()
        let stalled = [1: RunForecast.InFlight(elapsedMs: 60_000, remainingMs: nil, stalled: true)]
        let e = f.estimate(kind: .apply, settled: [2, 3], inFlight: stalled, doneMs: [:])
        #expect(e.atLeast)
        #expect(e.ms == 10_000, "d's 10 s at least, a's end unknown")
        let early = [1: RunForecast.InFlight(elapsedMs: 2_000, remainingMs: nil)]
        #expect(!f.estimate(kind: .apply, settled: [2, 3], inFlight: early, doneMs: [:]).atLeast)
    }

    @Test func rollbackWalksTheReversedGraph() {
        let nodes = [
            MigrationGraph.Node(
                id: 1,
                placement: Placement(
                    guest: "a", uuid: "a", source: "s", target: "t", memoryKiB: 1, vcpus: 1, mode: .live)),
            MigrationGraph.Node(
                id: 2,
                placement: Placement(
                    guest: "b", uuid: "b", source: "s", target: "t", memoryKiB: 1, vcpus: 1, mode: .live),
                after: [1]),
        ]
        let f = RunForecast(
            graph: MigrationGraph(nodes: nodes, limits: .init(total: 4, perSource: 4, perTarget: 4)),
            predictedMs: [1: 1_000, 2: 3_000])
        // Going home b (3 s) first, then a (1 s): in sequence either way.
        #expect(f.remainingMs(kind: .rollback, settled: [], inFlight: [:], doneMs: [:]) == 4_000)
        #expect(RunForecast.rollback(nodes, ids: [1, 2]).map(\.after) == [[], [2]])
    }
}

@Suite struct LiveScreenTests {
    private func start(_ n: Int) -> RunEvent {
        .runStarted(
            RunStart(kind: .apply, planName: "p", planHash: "0123456789abcdef", journal: "/j", runID: 1, steps: n))
    }
    private func running(_ id: Int) -> RunEvent {
        .step(
            StepChange(
                kind: .apply, id: id, guest: "g\(id)", source: "s", target: "t", from: .pending, to: .running,
                attempt: 1, message: "attempt 1"))
    }
    private func sample(_ id: Int, _ p: MigrationProgress) -> RunEvent {
        .progress(ProgressSample(id: id, guest: "g\(id)", source: "s", target: "t", progress: p))
    }

    /// The screen's ETA with the plan's forecast: two in flight nearly done, two queued.
    @Test func theBarCountsTheQueue() {
        let f = RunForecastTests().plan()
        var s = ProgressScreen(forecast: f)
        _ = s.apply(start(4), atMs: 0)
        for id in [1, 2] {
            _ = s.apply(running(id), atMs: 0)
            // 1 GiB guests (the plan's memory), 100 MiB left at 100 MiB/s: 1 s to go, 10 s in all.
            _ = s.apply(sample(id, job(ms: 8_000, memTotal: gib, memSent: 824 * mib, memLeft: 300 * mib)), atMs: 8_000)
            _ = s.apply(sample(id, job(ms: 9_000, memTotal: gib, memSent: 924 * mib, memLeft: 100 * mib)), atMs: 9_000)
        }
        s.refreshETA()
        #expect(s.etaMs == 11_000)
        #expect(s.render(width: 200).last?.hasSuffix("ETA 11s") == true, "\(s.render(width: 200))")
        #expect(s.render(width: 200).first?.contains("90%  100 MiB left ~0:01  100 MiB/s  iter 1") == true)
        // Without the plan the old extrapolation has nothing to go on before one migration ended.
        var plain = ProgressScreen()
        _ = plain.apply(start(4), atMs: 0)
        #expect(plain.etaMs == nil)
    }

    @Test func aStalledMigrationShowsNotConvergingAndALowerBound() {
        var s = ProgressScreen(forecast: RunForecastTests().plan())
        _ = s.apply(start(4), atMs: 0)
        _ = s.apply(running(1), atMs: 0)
        // 16 MiB/s copied, 16 MiB/s (4096 pages) dirtied: what is left does not shrink.
        _ = s.apply(
            sample(1, job(ms: 30_000, memTotal: gib, memSent: 2 * gib, memLeft: 50 * mib, dirtyPages: 4096)),
            atMs: 30_000)
        _ = s.apply(
            sample(1, job(ms: 31_000, memTotal: gib, memSent: 2 * gib + 16 * mib, memLeft: 50 * mib, dirtyPages: 4096)),
            atMs: 31_000)
        s.refreshETA()
        let lines = s.render(width: 200)
        #expect(lines.first?.contains("95%  50 MiB left not converging  16 MiB/s") == true, "\(lines)")
        #expect(s.etaIsLowerBound)
        #expect(lines.last?.contains("· ETA ≥") == true, "\(lines)")
    }

    /// The memory the plan knows is what is left before libvirt reports anything.
    @Test func aMigrationWithoutFiguresYetIsAllLeft() {
        var s = ProgressScreen(forecast: RunForecastTests().plan())
        _ = s.apply(start(4), atMs: 0)
        _ = s.apply(running(1), atMs: 0)
        _ = s.apply(sample(1, MigrationProgress(elapsedMs: 0)), atMs: 0)
        #expect(s.render(width: 200).first?.contains("0%  1.0 GiB left ~?") == true, "\(s.render(width: 200))")
    }
}

@Suite struct ProgressJournalerTests {
    /// The first sample of an attempt at once, then one per 2 s of the job's clock per step:
    /// the journal holds one row per step, whatever the run's length.
    @Test func samplesAreJournaledAtABoundedRate() async throws {
        let journal = MemoryJournal()
        let j = ProgressJournaler(journal: journal, intervalMs: 2000)
        j.handle(.runStarted(RunStart(kind: .apply, planName: "p", planHash: "h", journal: "/j", runID: 7, steps: 2)))
        let sample = { (id: Int, ms: UInt64) in
            RunEvent.progress(
                ProgressSample(
                    id: id, guest: "g", source: "s", target: "t",
                    progress: MigrationProgress(elapsedMs: ms, dataTotal: 1 << 30)))
        }
        j.handle(sample(1, 100)) // not running yet: dropped
        j.handle(
            .step(
                StepChange(
                    kind: .apply, id: 1, guest: "g", source: "s", target: "t", from: .pending, to: .running,
                    attempt: 3, message: "")))
        let written = { () async throws -> UInt64? in try await journal.progress().first?.progress.elapsedMs }
        // The job still setting up: no figures, not written, and no interval started.
        j.handle(
            .progress(
                ProgressSample(id: 1, guest: "g", source: "s", target: "t", progress: MigrationProgress(elapsedMs: 20)))
        )
        j.handle(sample(1, 500))
        try await waitFor { try await written() == 500 }
        j.handle(sample(1, 1500)) // within 2 s of the last write
        j.handle(sample(1, 2400)) // also within
        j.handle(sample(1, 2600)) // 2.1 s after: written
        try await waitFor { try await written() == 2600 }
        let rows = try await journal.progress()
        #expect(rows.count == 1)
        #expect(rows.first?.runID == 7 && rows.first?.attempt == 3 && rows.first?.kind == .apply)
        // The 1500 and 2400 samples never made it: 2600 is the first after 500 + 2000.
        j.handle(sample(1, 3000))
        j.handle(sample(2, 3000)) // step 2 is not running: dropped
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await written() == 2600)
        #expect(try await journal.progress().count == 1)
    }

    /// The executor journals progress through it: a follower finds a sample of every migration.
    @Test func theExecutorJournalsASampleOfEachMigration() async throws {
        let fp = FakePlan(moves: (1...3).map { .init("g\($0)", from: "s", to: "t\($0)") })
        let plan = try fp.planFile()
        let journal = MemoryJournal()
        let result = await Executor(
            plan: plan, hypervisor: fp.world(migrationDelay: .milliseconds(40)), journal: journal
        )
        .apply()
        #expect(result.status == .allDone)
        try await waitFor { try await journal.progress().count == 3 }
        #expect(try await journal.progress().allSatisfy { $0.attempt == 1 && $0.runID == 1 })
    }
}

/// Waits (bounded) until `condition` holds: the journaler writes from a task of its own.
func waitFor(_ condition: () async throws -> Bool) async throws {
    for _ in 0..<500 {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("condition not met within 5 s")
}
