import EvacCore
import EvacFake
import EvacRun
import Foundation
import Testing

@testable import EvacHTML

/// The run page of a real run of the executor on the fake hypervisor (one failure, so one
/// blocked dependant), read back from its SQLite journal.
struct RunPageTests {
    static func finishedRun() async throws -> (PlanFile, JournalStatus, URL) {
        var fp = FakePlan(moves: [
            .init("app-1", from: "src-a", to: "dst-a"),
            .init("app-2", from: "src-b", to: "dst-b"),
            .init("app-3", from: "src-a", to: "dst-b"),
            .init("db-1", from: "src-b", to: "dst-a", after: ["app-2"]),
            .init("web-1", from: "src-b", to: "dst-b"),
        ])
        fp.total = 2
        let plan = try fp.planFile()
        let world = fp.world(migrationDelay: .milliseconds(40))
        world.setFault(guest: "app-2", .fail("internal error: qemu unexpectedly closed the monitor"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "evac-runpage-\(UUID().uuidString.prefix(8))")
        let journal = try SQLiteJournal(
            path: JournalLocation.journalPath(for: plan, stateDirectory: dir.path), plan: plan)
        let result = await Executor(plan: plan, hypervisor: world, journal: journal).apply()
        journal.close()
        #expect(result.status == .partial)
        return (plan, try JournalStatus.read(path: journal.path), dir)
    }

    @Test func actualBarsBesideTheEstimateForEveryStep() async throws {
        let (plan, status, dir) = try await Self.finishedRun()
        defer { try? FileManager.default.removeItem(at: dir) }
        let html = RunPage.render(plan: plan, timeline: Estimate.timeline(plan), status: status)
        #expect(Browser.count("class=\"bar est-fill\"", in: html) == 5)
        #expect(Browser.count("class=\"bar st-done\"", in: html) == 3)
        #expect(Browser.count("class=\"bar st-failed\"", in: html) == 1)
        // Blocked behind the failure before it started: no times, so no actual bar; its lane says so.
        #expect(Browser.count("class=\"bar st-blocked\"", in: html) == 0)
        #expect(html.contains("→ dst-a · blocked"))
        #expect(Browser.count("<g class=\"lane\"", in: html) == 5, "one lane per migration")
        #expect(html.contains("qemu unexpectedly closed the monitor"))
        #expect(html.contains("waits for app-2, which failed"))

        let page = dir.appendingPathComponent("run.html")
        try html.write(to: page, atomically: true, encoding: .utf8)
        let dom = try Browser.dom(page)
        #expect(Browser.count("data-row=\"actual\"", in: dom) == 4)
        #expect(Browser.count("data-row=\"estimate\"", in: dom) == 5)
        #expect(dom.contains("<table id=\"problems\">"))
        let png = try Browser.screenshot(page, to: dir.appendingPathComponent("run.png"), height: 1000)
        #expect(Browser.pngSize(png)?.width == 1280)
        #expect(png.count > 30_000, "screenshot is only \(png.count) bytes")
        if let keep = ProcessInfo.processInfo.environment["EVAC_KEEP_SCREENSHOTS"] {
            try? png.write(to: URL(fileURLWithPath: keep).appendingPathComponent("run.png"))
        }
    }

    @Test func aRunningStepExtendsToNow() throws {
        let st = StepRecord(
            kind: .apply, id: 1, guest: "g", uuid: "u", source: "a", target: "b", state: .running,
            attempt: 1, started: "2026-01-01T00:00:10.000Z")
        let origin = JournalClock.date("2026-01-01T00:00:00.000Z")!
        let iv = RunPage.interval(st, origin: origin, now: origin.addingTimeInterval(25))
        #expect(iv?.start == 10_000 && iv?.end == 25_000)
        #expect(JournalClock.date("not a time") == nil)
    }
}
