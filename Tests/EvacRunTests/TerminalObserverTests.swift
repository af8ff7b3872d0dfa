import EvacCore
import Foundation
import XCTest

@testable import EvacRun

private let mib: UInt64 = 1 << 20
private let gib: UInt64 = 1 << 30

private func start(_ steps: Int, _ kind: RunKind = .apply) -> RunEvent {
    .runStarted(
        RunStart(kind: kind, planName: "drain", planHash: "abcdef0123456789", journal: "/j", runID: 1, steps: steps))
}
private func change(
    _ id: Int, _ guest: String, _ from: StepState?, _ to: StepState?, _ message: String = "",
    kind: RunKind = .apply
) -> RunEvent {
    .step(
        StepChange(
            kind: kind, id: id, guest: guest, source: "kvm-12a", target: "kvm-13a", from: from, to: to,
            attempt: 1, message: message.isEmpty ? (to?.rawValue ?? "checking") : message))
}
private func progress(_ id: Int, _ guest: String, _ p: MigrationProgress) -> RunEvent {
    .progress(ProgressSample(id: id, guest: guest, source: "kvm-12a", target: "kvm-13a", progress: p))
}
/// 47% of 4 GiB at 112 MiB/s, 2nd pass, 3100 dirty pages/s, 42 s in.
private let sample = MigrationProgress(
    elapsedMs: 42_300, dataTotal: 4 * gib, dataProcessed: 4 * gib * 47 / 100 + 1,
    dataRemaining: gib + gib / 5, memoryBps: 112 * mib, iteration: 2, dirtyRate: 3100)

final class ProgressScreenTests: XCTestCase {
    func testLiveLineAndBar() {
        var s = ProgressScreen()
        XCTAssertEqual(s.apply(start(12), atMs: 0), ["apply drain (abcdef012345): 12 step(s), run 1, journal /j"])
        XCTAssertEqual(s.apply(change(1, "db-01", .pending, nil), atMs: 0), [])
        XCTAssertEqual(s.apply(change(1, "db-01", .pending, .running, "attempt 1"), atMs: 10), [])
        XCTAssertEqual(s.apply(progress(1, "db-01", sample), atMs: 100), [])
        XCTAssertEqual(s.apply(change(2, "web-1", .pending, nil), atMs: 100), [])
        XCTAssertEqual(
            s.render(width: 200),
            [
                "  db-01  kvm-12a → kvm-13a  [####......]  47%  112 MiB/s  1.2 GiB left  iter 2  dirty 3.1k pages/s  0:42",
                "  web-1  kvm-12a → kvm-13a  checking",
                "[....................] 0/12 done, 0 failed, 0 blocked · 2 in flight · ETA —",
            ])
    }

    func testResumeCountsEarlierRunsAsDone() {
        var s = ProgressScreen()
        _ = s.apply(
            .runStarted(
                RunStart(
                    kind: .apply, planName: "drain", planHash: "abcdef0123456789", journal: "/j",
                    runID: 2, steps: 5, alreadyDone: 3)), atMs: 0)
        _ = s.apply(change(4, "web-1", .pending, .running, "attempt 2"), atMs: 10)
        XCTAssertEqual(s.counts.done, 3)
        XCTAssertEqual(s.counts.running, 1)
        XCTAssertEqual(s.counts.pending, 1)
        XCTAssertEqual(s.counts.total, 5)
    }

    func testUnitsAndStartingLine() {
        var s = ProgressScreen()
        _ = s.apply(start(1), atMs: 0)
        _ = s.apply(change(1, "a", .pending, .running), atMs: 0)
        XCTAssertEqual(s.render(width: 200).first, "  a  kvm-12a → kvm-13a  starting")
        _ = s.apply(
            progress(
                1, "a",
                MigrationProgress(
                    elapsedMs: 3_723_000, dataTotal: 100, dataProcessed: 100,
                    dataRemaining: 300 * mib, memoryBps: 5 * mib / 2,
                    iteration: 0, dirtyRate: 2_500_000)), atMs: 0)
        XCTAssertEqual(
            s.render(width: 200).first,
            "  a  kvm-12a → kvm-13a  [##########] 100%  2 MiB/s  300 MiB left  iter 0  dirty 2.5M pages/s  1:02:03")
    }

    func testPermanentLinesCountsAndETA() {
        var s = ProgressScreen()
        _ = s.apply(start(12), atMs: 0)
        // Three in flight at once: the parallelism the ETA divides by.
        for (id, g) in [(1, "a"), (2, "b"), (3, "c")] { _ = s.apply(change(id, g, .pending, .running), atMs: 0) }
        XCTAssertEqual(
            s.apply(change(1, "a", .running, .done, "done in 1m"), atMs: 60_000),
            ["a kvm-12a → kvm-13a done in 1m"])
        XCTAssertEqual(
            s.apply(change(2, "b", .running, .failed, "migration failed: boom"), atMs: 70_000),
            ["b kvm-12a → kvm-13a failed: migration failed: boom"])
        XCTAssertEqual(
            s.apply(change(4, "d", .pending, .blocked, "waits for b"), atMs: 70_000),
            ["d kvm-12a → kvm-13a blocked: waits for b"])
        XCTAssertEqual(s.apply(.notice("x: lost"), atMs: 70_000), ["NOTICE: x: lost"])
        // 12 - 3 settled = 9 left (8 pending + 1 running) × 60 s ÷ 3 = 3 min.
        XCTAssertEqual(s.etaMs, 180_000)
        XCTAssertEqual(
            s.render(width: 200).last,
            "[#####...............] 1/12 done, 1 failed, 1 blocked · 1 in flight · ETA 3m")
    }

    func testRollbackIgnoresTheApplyStepsItMarks() {
        var s = ProgressScreen()
        _ = s.apply(start(2, .rollback), atMs: 0)
        XCTAssertEqual(s.apply(change(1, "a", .done, .rolledBack, kind: .apply), atMs: 0), [])
        XCTAssertEqual(s.counts.rolledBack, 0)
    }

    func testTruncationAndOverflow() {
        var s = ProgressScreen()
        _ = s.apply(start(5), atMs: 0)
        for id in 1...5 { _ = s.apply(change(id, "guest-\(id)", .pending, nil), atMs: 0) }
        let lines = s.render(width: 30, maxLines: 4)
        XCTAssertEqual(
            lines,
            [
                "  guest-1  kvm-12a → kvm-13a …",
                "  guest-2  kvm-12a → kvm-13a …",
                "  … 3 more in flight",
                "[....................] 0/5 do…",
            ])
        XCTAssertTrue(lines.allSatisfy { $0.count <= 30 })
    }

    func testSummaryListsProblems() {
        var s = ProgressScreen()
        _ = s.apply(start(2), atMs: 0)
        var c = StepCounts()
        c.add(.done)
        c.add(.failed)
        let bad = StepRecord(
            kind: .apply, id: 2, guest: "b", uuid: "u", source: "s", target: "t", state: .failed, reason: "boom")
        let lines = s.apply(
            .runFinished(
                RunSummary(
                    kind: .apply, status: .partial, message: nil, counts: c,
                    elapsedMs: 61_000, problems: [bad])), atMs: 0)
        XCTAssertEqual(lines.count, 2)
        XCTAssertEqual(lines[1], "  b: failed: boom")
        XCTAssertTrue(lines[0].hasPrefix("apply finished: partial — 1 done, 1 failed"), lines[0])
    }
}

final class TerminalObserverTests: XCTestCase {
    /// A clock the test moves, and deferred redraws kept for the test to fire.
    final class Harness: @unchecked Sendable {
        let ms = Locked<UInt64>(0)
        let pending = Locked<[@Sendable () -> Void]>([])
        let file = NSTemporaryDirectory() + "evac-term-" + UUID().uuidString
        lazy var observer: TerminalObserver = {
            FileManager.default.createFile(atPath: file, contents: nil)
            return TerminalObserver(
                handle: FileHandle(forWritingAtPath: file)!,
                options: .init(color: false, width: 121, rows: 24),
                clockMs: { [ms] in ms.withLock { $0 } },
                scheduler: { [pending] _, work in pending.withLock { $0.append(work) } })
        }()
        func at(_ t: UInt64, _ e: RunEvent) {
            ms.withLock { $0 = t }
            observer.handle(e)
        }
        func fire() {
            for w in pending.withLock({ p in
                defer { p = [] }
                return p
            }) { w() }
        }
        var output: String { (try? String(contentsOfFile: file, encoding: .utf8)) ?? "" }
        deinit { try? FileManager.default.removeItem(atPath: file) }
    }

    func testFramesCoalesceAndLogAboveTheBlock() {
        let h = Harness()
        h.at(0, start(2))
        h.at(0, change(1, "a", .pending, .running))
        var frames = h.output.components(separatedBy: "\u{1B}[J")
        // Frame 1: the start line (permanent) and the bar; no cursor-up yet.
        XCTAssertEqual(
            frames[0],
            "\r\u{1B}[2Kapply drain (abcdef012345): 2 step(s), run 1, journal /j\n"
                + "\u{1B}[2K[....................] 0/2 done, 0 failed, 0 blocked · 0 in flight · ETA —\n")
        // The running step came 0 ms later: no frame yet, one deferred redraw armed.
        XCTAssertEqual(frames.count, 2)
        h.at(50, progress(1, "a", sample))
        XCTAssertEqual(h.pending.withLock { $0.count }, 1, "one timer for the whole burst")
        h.fire()
        frames = h.output.components(separatedBy: "\u{1B}[J")
        XCTAssertEqual(
            frames[1],
            "\r\u{1B}[1A\u{1B}[2K  a  kvm-12a → kvm-13a  [####......]  47%  112 MiB/s  1.2 GiB left  iter 2  dirty 3.1k pages/s  0:42\n"
                + "\u{1B}[2K[....................] 0/2 done, 0 failed, 0 blocked · 1 in flight · ETA —\n")
        // A finished step is logged at once, above the redrawn block (cursor up over its 2 lines).
        h.at(60, change(1, "a", .running, .done, "done in 60ms"))
        frames = h.output.components(separatedBy: "\u{1B}[J")
        XCTAssertEqual(
            frames[2],
            "\r\u{1B}[2A\u{1B}[2Ka kvm-12a → kvm-13a done in 60ms\n"
                + "\u{1B}[2K[##########..........] 1/2 done, 0 failed, 0 blocked · 0 in flight · ETA 0s\n")
        // The end: block cleared, summary printed, nothing redrawn under it even if a timer fires.
        var c = StepCounts()
        c.add(.done)
        c.add(.pending)
        h.at(
            70,
            .runFinished(
                RunSummary(kind: .apply, status: .interrupted, message: nil, counts: c, elapsedMs: 70, problems: [])))
        h.fire()
        frames = h.output.components(separatedBy: "\u{1B}[J")
        XCTAssertEqual(frames.count, 5)
        XCTAssertTrue(frames[3].hasPrefix("\r\u{1B}[1A\u{1B}[2Kapply finished: interrupted — 1 done"), frames[3])
        XCTAssertEqual(frames[4], "")
    }

    func testFallbacks() {
        XCTAssertFalse(TerminalObserver.isTerminal(-1))
        XCTAssertFalse(TerminalObserver.supported(-1, environment: ["TERM": "xterm"]))
        XCTAssertTrue(TerminalObserver.forStandardOutput(environment: ["TERM": "dumb"]) is PlainObserver)
    }
}
