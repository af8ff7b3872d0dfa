import EvacCore
import Foundation
import Testing

@testable import EvacHTML

/// The plan page of the demo plan file (the CLI's golden `evac plan --output json`): six
/// migrations to three targets, six unplaceable guests, one staying.
struct PlanPageTests {
    static let goldenPlan = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("EvacCLITests/Golden/plan/demo.planfile.json")

    static func demo() throws -> PlanFile {
        try JSONDecoder().decode(PlanFile.self, from: Data(contentsOf: goldenPlan))
    }

    static func write(_ html: String, _ name: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "evac-html-tests-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try html.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test func aBarPerMigrationALanePerTargetAndEveryUnplaceableGuest() throws {
        let plan = try Self.demo()
        let timeline = Estimate.timeline(plan, assumedBandwidth: 1 << 30)
        let html = PlanPage.render(plan: plan, timeline: timeline)
        #expect(Browser.count("<rect class=\"bar ", in: html) == plan.graph.nodes.count)
        for n in plan.graph.nodes { #expect(html.contains("data-id=\"\(n.id)\" data-guest=\"\(n.guest)\"")) }
        #expect(Browser.count("<g class=\"lane\"", in: html) == Set(plan.graph.nodes.map(\.target)).count)
        #expect(Browser.count("<tr class=\"unplaceable\"", in: html) == plan.unplaceable.count)
        #expect(Browser.count("<g class=\"target\"", in: html) == plan.targetUsage.count)
        #expect(!html.contains("window-end"), "no window given, none drawn")
        // Nothing is fetched: no external references of any kind.
        for banned in ["http://", "https://", "<script", "@import", "url(http", "<link"] where banned != "http://" {
            #expect(!html.contains(banned), "\(banned)")
        }
        #expect(!html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http://"))
    }

    @Test func theWindowEndIsMarkedAndLateMigrationsOutlined() throws {
        let plan = try Self.demo()
        let timeline = Estimate.timeline(plan)
        let end = timeline.totalMs / 2
        let html = PlanPage.render(plan: plan, timeline: timeline, window: .init(endMs: end))
        #expect(html.contains("id=\"gantt-window-end\""))
        let late = timeline.entries.filter { $0.endMs > end }.count
        #expect(late > 0)
        #expect(Browser.count(" late\" data-id=", in: html) == late)
        #expect(html.contains("overruns by"))
        let roomy = PlanPage.render(plan: plan, timeline: timeline, window: .init(endMs: timeline.totalMs * 2))
        #expect(roomy.contains("fits in") && !roomy.contains(" late\""))
    }

    /// Under a window that skips late migrations (the executor's default) the page shows what
    /// the executor is predicted to start, by its own rule, not the up-front schedule: nothing
    /// drawn as started ends after the close, and what is not started has no start time.
    @Test func aSkippingWindowShowsWhatTheExecutorWouldStart() throws {
        let plan = try Self.demo()
        let timeline = Estimate.timeline(plan)
        let end = timeline.totalMs / 2
        let window = PlanPage.Window(endMs: end, rule: MaintenanceWindow(durationMs: UInt64(end), late: .skip))
        let html = PlanPage.render(plan: plan, timeline: timeline, window: window)
        let run = try #require(window.predicted(plan, timeline))
        #expect(!run.refused.isEmpty, "half the estimate cannot hold every migration")
        #expect(run.started.allSatisfy { $0.endMs <= end })
        #expect(run.started.count + run.refused.count + run.waiting.count == plan.graph.nodes.count)
        #expect(html.contains("\(run.started.count) of \(plan.graph.nodes.count) start"))
        #expect(!html.contains("overruns by"), "the makespan verdict is for windows that start everything")
        #expect(Browser.count(" late\" data-id=", in: html) == run.refused.count)
        let notes = Browser.count("not started: ", in: html)
        #expect(notes >= run.refused.count + run.waiting.count)
        // late: start keeps the up-front schedule and its verdict.
        var starting = window
        starting.rule?.late = .start
        let anyway = PlanPage.render(plan: plan, timeline: timeline, window: starting)
        #expect(anyway.contains("overruns by") && !anyway.contains("not started: "))
    }

    @Test func namesFromTheInventoryAreEscaped() throws {
        var plan = try Self.demo()
        plan.graph.nodes[0].placement.guest = "<script>alert(1)</script>"
        plan.unplaceable[0].candidates[0].reason = "needs \"64 GiB\" & <more>"
        let html = PlanPage.render(plan: plan, timeline: Estimate.timeline(plan))
        #expect(!html.contains("<script>"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(html.contains("needs &quot;64 GiB&quot; &amp; &lt;more&gt;"))
    }

    @Test func largePlansAreDrawnPerSlotWithoutPerBarElements() throws {
        var plan = try Self.demo()
        let template = plan.graph.nodes[2]
        plan.graph.nodes = (1...5000).map { i in
            var n = template
            n.id = i
            n.placement.guest = "vm-\(i)"
            n.placement.source = "s-\(i % 8)"
            n.placement.target = "t-\(i % 200)"
            n.after = []
            n.groups = []
            return n
        }
        plan.graph.limits.groups = []
        let timeline = Estimate.timeline(plan)
        let html = PlanPage.render(plan: plan, timeline: timeline)
        #expect(html.contains("data-mode=\"dense\""))
        #expect(Browser.count("<g class=\"lane\"", in: html) == plan.graph.limits.total)
        #expect(Browser.count("<rect class=\"bar ", in: html) == 0)
        #expect(html.contains("The first 1000 of 5000 are listed."))
    }

    @Test func numbersForSVGHaveNoExponentAndAtMostTwoDecimals() {
        #expect(HTML.num(3) == "3")
        #expect(HTML.num(12.5) == "12.5")
        #expect(HTML.num(12.05) == "12.05")
        #expect(HTML.num(-0.5) == "-0.5")
        #expect(HTML.num(-1.25) == "-1.25")
        #expect(HTML.num(1e-9) == "0")
        #expect(HTML.num(123456.789) == "123456.79")
        #expect(HTML.num(.nan) == "0")
    }

    /// Loaded by Chromium: the browser's DOM has the chart, its lanes and bars, the memory rows
    /// and the unplaceable list, and the screenshot is a real picture of the page.
    @Test func chromiumRendersThePage() throws {
        let plan = try Self.demo()
        let timeline = Estimate.timeline(plan)
        let page = try Self.write(
            PlanPage.render(plan: plan, timeline: timeline, window: .init(endMs: 30_000)), "plan.html")
        defer { try? FileManager.default.removeItem(at: page.deletingLastPathComponent()) }
        let dom = try Browser.dom(page)
        #expect(dom.contains("<svg id=\"gantt\""))
        #expect(Browser.count("<rect class=\"bar ", in: dom) == plan.graph.nodes.count)
        #expect(Browser.count("<g class=\"lane\"", in: dom) == 3)
        #expect(Browser.count("<tr class=\"unplaceable\"", in: dom) == plan.unplaceable.count)
        #expect(Browser.count("<g class=\"target\"", in: dom) == plan.targetUsage.count)
        #expect(dom.contains("id=\"gantt-window-end\""))
        let png = try Browser.screenshot(page, to: page.deletingLastPathComponent().appendingPathComponent("plan.png"))
        let size = Browser.pngSize(png)
        #expect(size?.width == 1280 && size?.height == 1400)
        // A blank page compresses to a few KB; text, bars and tables do not.
        #expect(png.count > 40_000, "screenshot is only \(png.count) bytes")
        if let keep = ProcessInfo.processInfo.environment["EVAC_KEEP_SCREENSHOTS"] {
            try? png.write(to: URL(fileURLWithPath: keep).appendingPathComponent("plan.png"))
        }
    }

    @Test func migrationGroupsAreListedWithTheirOptionsAndGuests() throws {
        var plan = try Self.demo()
        #expect(!PlanPage.render(plan: plan, timeline: Estimate.timeline(plan)).contains("migration-groups"))
        let first = try #require(plan.graph.nodes.first)
        var slow = plan.policy.migration
        slow.bandwidthBytesPerSec = 8 << 20
        var ladder = ConvergenceLadder(stallPasses: 2, fallback: .offline)
        ladder.allowRestart = true
        slow.ladder = ladder
        plan.policy.migrationGroups = [
            MigrationGroup(name: "slow <db>", guests: [first.guest, "db-*"], options: slow),
            MigrationGroup(name: "empty", guests: ["nothing-*"], options: plan.policy.migration),
        ]
        plan.graph.nodes[0].migrationGroup = "slow <db>"
        let html = PlanPage.render(plan: plan, timeline: Estimate.timeline(plan))
        #expect(html.contains("<table id=\"migration-groups\">"))
        #expect(Browser.count("<tr class=\"migration-group\"", in: html) == 3, "two groups and the plan's")
        let row = try #require(html.components(separatedBy: "data-group=\"slow &lt;db&gt;\"").dropFirst().first)
        let slowRow = String(row.prefix { $0 != "\n" })
        #expect(slowRow.contains("data-migrations=\"1\""), "\(slowRow)")
        #expect(slowRow.contains("bandwidth 8"), "\(slowRow)")
        #expect(slowRow.contains("fallback offline"), "\(slowRow)")
        #expect(slowRow.contains("#\(first.id) \(first.guest)"), "\(slowRow)")
        #expect(slowRow.contains("db-*"), "\(slowRow)")
        #expect(html.contains("data-group=\"empty\" data-migrations=\"0\""))
        let others = plan.graph.nodes.count - 1
        #expect(html.contains("data-group=\"\" data-migrations=\"\(others)\""), "the rest get the plan's")
    }
}
