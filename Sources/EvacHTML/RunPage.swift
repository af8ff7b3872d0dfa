import EvacCore
import EvacRun
import Foundation

/// `evac status --output html`: a run as it happened (each step's started/finished from the
/// journal) beside the plan's estimate, on one time axis from the start of the first run.
/// A pure function of the plan file, its estimate, the journal's contents and `now` (the end
/// of the bars of migrations still running).
public enum RunPage {
    /// Up to this many migrations get a lane each (estimate above, actual below); more are
    /// drawn in one lane per target.
    static let maxGuestLanes = 150

    public static func render(plan: PlanFile, timeline: Timeline, status: JournalStatus, now: Date = Date()) -> String {
        let origin = status.runs.compactMap { JournalClock.date($0.started) }.min() ?? now
        var body = header(plan, status, timeline, origin: origin, now: now)
        body += chart(
            title: "Apply: actual against the estimate", id: "gantt", steps: status.apply, plan: plan,
            timeline: timeline, status: status, origin: origin, now: now)
        if !status.rollback.isEmpty {
            body += chart(
                title: "Rollback", id: "gantt-rollback", steps: status.rollback, plan: plan,
                timeline: nil, status: status, origin: origin, now: now)
        }
        body += problems(status)
        body += runs(status)
        body += steps(status.apply, title: "Apply steps", origin: origin)
        if !status.rollback.isEmpty { body += steps(status.rollback, title: "Rollback steps", origin: origin) }
        body +=
            "<footer>Written by evac \(HTML.esc(EvacVersion.current)) from journal <code>\(HTML.esc((status.path as NSString).lastPathComponent))</code>. "
        body += "The page is self-contained: it loads nothing from the network.</footer>\n"
        return HTML.document(title: "evac run \(status.planName)", body: body)
    }

    static func header(_ plan: PlanFile, _ s: JournalStatus, _ timeline: Timeline, origin: Date, now: Date) -> String {
        let c = s.applyCounts
        let last = s.runs.last
        var h = "<h1>Evacuation run <span class=\"mono\">\(HTML.esc(s.planName))</span></h1>\n"
        h +=
            "<p class=\"sub\">plan <code>\(s.planHash.prefix(12))</code> · \(s.runs.count) run\(s.runs.count == 1 ? "" : "s") · "
        h += s.activeHolder.map { "running now: \(HTML.esc($0))" } ?? "no run in progress"
        h += "</p>\n<div class=\"cards\">"
        h += PlanPage.card("done", "\(c.done) of \(c.total)", tone: c.done == c.total ? "ok" : nil)
        h += PlanPage.card("failed", "\(c.failed)", tone: c.failed > 0 ? "bad" : nil)
        h += PlanPage.card("blocked", "\(c.blocked)", tone: c.blocked > 0 ? "warn" : nil)
        h += PlanPage.card("pending / running", "\(c.pending) / \(c.running)")
        if s.rollbackCounts.total > 0 { h += PlanPage.card("rolled back", "\(s.applyCounts.rolledBack)") }
        let end = s.runs.compactMap { $0.finished.flatMap(JournalClock.date) }.max() ?? now
        h += PlanPage.card("elapsed (all runs)", Clock.text(ms: max(0, end.timeIntervalSince(origin) * 1000)))
        h += PlanPage.card("estimate", "≈ \(Clock.text(ms: timeline.totalMs))")
        if let last {
            h += PlanPage.card(
                "last run", "\(last.kind.rawValue) \(last.exitStatus ?? "(unfinished)")",
                tone: last.exitStatus == "all-done" ? "ok" : last.exitStatus == nil ? nil : "warn")
        }
        return h + "</div>\n"
    }

    static func chart(
        title: String, id: String, steps: [StepRecord], plan: PlanFile, timeline: Timeline?,
        status: JournalStatus, origin: Date, now: Date
    ) -> String {
        let estimates = Dictionary(
            (timeline?.entries ?? []).map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let sorted = steps.sorted { $0.id < $1.id }
        let perGuest = sorted.count <= maxGuestLanes
        let targets = Array(Set(sorted.map(\.target))).sorted()
        let targetIndex = Dictionary(targets.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        let lanes =
            perGuest
            ? sorted.map {
                Gantt.Lane(
                    label: $0.guest, detail: "→ \($0.target)" + ($0.state == .done ? "" : " · \($0.state.rawValue)"))
            }
            : targets.map { Gantt.Lane(label: $0, detail: "") }
        var bars: [Gantt.Bar] = []
        for (i, st) in sorted.enumerated() {
            let lane = perGuest ? i : targetIndex[st.target] ?? 0
            if let e = estimates[st.id] {
                bars.append(
                    Gantt.Bar(
                        id: st.id, lane: lane, row: 0, startMs: e.startMs, endMs: e.endMs, fillClass: "est-fill",
                        title:
                            "#\(st.id) \(st.guest) estimate: \(Clock.text(ms: e.startMs))–\(Clock.text(ms: e.endMs))",
                        guest: st.guest))
            }
            guard let actual = interval(st, origin: origin, now: now) else { continue }
            let took = actual.end - actual.start
            bars.append(
                Gantt.Bar(
                    id: st.id, lane: lane, row: 1, startMs: actual.start, endMs: actual.end,
                    fillClass: "st-\(st.state.rawValue)",
                    title: "#\(st.id) \(st.guest) \(st.source) → \(st.target): \(st.state.rawValue)"
                        + (st.started == nil
                            ? ""
                            : ", \(Clock.text(ms: actual.start))–\(Clock.text(ms: actual.end)) (\(Clock.text(ms: took)))")
                        + (st.attempt > 1 ? ", attempt \(st.attempt)" : "") + (st.reason.map { ": \($0)" } ?? ""),
                    guest: st.guest))
        }
        let kind: RunKind = id == "gantt" ? .apply : .rollback
        let marks = status.runs.enumerated().compactMap { (i, r) -> Gantt.Mark? in
            guard r.kind == kind || (kind == .apply && i == 0), let t = JournalClock.date(r.started) else { return nil }
            return Gantt.Mark(atMs: max(0, t.timeIntervalSince(origin) * 1000), label: "run \(r.id) \(Self.verb(r))")
        }
        let chart = Gantt(id: id, lanes: lanes, bars: bars, rows: 2, marks: marks)
        var s = "<h2>\(HTML.esc(title))</h2>\n<div class=\"legend\">"
        if timeline != nil {
            s += "<span><i style=\"background:#dfe5ee;border:1px dashed #8a94a6\"></i>estimate (thin, above)</span>"
        }
        for (cls, label) in [
            ("done", "done"), ("running", "running"), ("failed", "failed"), ("blocked", "blocked (when it was found)"),
            ("rolled-back", "rolled back"),
        ] {
            s += "<span><i class=\"st\" style=\"background:\(stateColor(cls))\"></i>\(label)</span>"
        }
        s +=
            "</div>\n<p class=\"note\">Time from the start of run \(status.runs.first?.id ?? 1); \(perGuest ? "one lane per migration" : "one lane per target (\(sorted.count) migrations)"); dotted lines: where each run started.</p>\n"
        return s + chart.svg()
    }

    static func verb(_ r: RunRecord) -> String {
        let words = r.command.split(separator: " ")
        return words.count > 1 ? String(words[1]) : r.kind.rawValue
    }

    static func stateColor(_ s: String) -> String {
        ["done": "#2e7d32", "running": "#1565c0", "failed": "#c62828", "blocked": "#ef6c00", "rolled-back": "#6a1b9a"][
            s] ?? "#b0b7c3"
    }

    /// Milliseconds from `origin` of the step's last attempt; a blocked step (never started) is
    /// a short mark where it was found blocked, a running one extends to `now`.
    static func interval(_ st: StepRecord, origin: Date, now: Date) -> (start: Double, end: Double)? {
        let started = st.started.flatMap(JournalClock.date)
        let finished = st.finished.flatMap(JournalClock.date)
        func ms(_ d: Date) -> Double { max(0, d.timeIntervalSince(origin) * 1000) }
        switch (started, finished) {
        case (let s?, let f?) where f >= s: return (ms(s), ms(f))
        case (let s?, _): return st.state == .running ? (ms(s), max(ms(s), ms(now))) : (ms(s), ms(s))
        case (nil, let f?): return (ms(f), ms(f))
        default: return nil
        }
    }

    static func problems(_ s: JournalStatus) -> String {
        let bad = (s.apply + s.rollback).filter { $0.state == .failed || $0.state == .blocked }
        var h = "<h2>Failed and blocked (\(bad.count))</h2>\n"
        if bad.isEmpty { return h + "<p id=\"problems\" class=\"note\">None.</p>\n" }
        h +=
            "<table id=\"problems\"><thead><tr><th>step</th><th>guest</th><th>source → target</th><th>state</th><th>why</th></tr></thead><tbody>\n"
        for st in bad {
            h +=
                "<tr><td class=\"nw\">\(st.kind.rawValue) #\(st.id)</td><td class=\"nw\">\(HTML.esc(st.guest))</td><td class=\"nw\">\(HTML.esc(st.source)) → \(HTML.esc(st.target))</td>"
            h +=
                "<td class=\"state \(st.state.rawValue)\">\(st.state.rawValue)</td><td>\(HTML.esc(st.reason ?? ""))</td></tr>\n"
        }
        return h + "</tbody></table>\n"
    }

    static func runs(_ s: JournalStatus) -> String {
        var h =
            "<h2>Runs</h2>\n<table id=\"runs\"><thead><tr><th class=\"n\">run</th><th>kind</th><th>started</th><th>finished</th><th>status</th><th>command</th></tr></thead><tbody>\n"
        for r in s.runs {
            h +=
                "<tr><td class=\"n\">\(r.id)</td><td>\(r.kind.rawValue)</td><td class=\"nw\">\(HTML.esc(r.started))</td><td class=\"nw\">\(HTML.esc(r.finished ?? "(unfinished)"))</td>"
            h += "<td>\(HTML.esc(r.exitStatus ?? ""))</td><td><code>\(HTML.esc(r.command))</code></td></tr>\n"
        }
        return h + "</tbody></table>\n"
    }

    static func steps(_ steps: [StepRecord], title: String, origin: Date) -> String {
        var h =
            "<h2>\(HTML.esc(title)) (\(steps.count))</h2>\n<table class=\"steps\"><thead><tr><th class=\"n\">#</th><th>guest</th><th>source → target</th>"
        h +=
            "<th>state</th><th class=\"n\">attempts</th><th class=\"n\">started</th><th class=\"n\">took</th><th>reason</th></tr></thead><tbody>\n"
        for st in steps.sorted(by: { $0.id < $1.id }).prefix(PlanPage.maxTableRows) {
            let iv = interval(st, origin: origin, now: origin)
            h +=
                "<tr><td class=\"n\">\(st.id)</td><td class=\"nw\">\(HTML.esc(st.guest))</td><td class=\"nw\">\(HTML.esc(st.source)) → \(HTML.esc(st.target))</td>"
            h += "<td class=\"state \(st.state.rawValue)\">\(st.state.rawValue)</td><td class=\"n\">\(st.attempt)</td>"
            h += "<td class=\"n\">\(st.started != nil ? iv.map { "+" + Clock.text(ms: $0.start) } ?? "" : "")</td>"
            h +=
                "<td class=\"n\">\(st.started != nil && st.finished != nil ? iv.map { Clock.text(ms: $0.end - $0.start) } ?? "" : "")</td>"
            h += "<td>\(HTML.esc(st.reason ?? ""))</td></tr>\n"
        }
        return h + "</tbody></table>\n"
    }
}

/// The estimate for a plan file read back from a journal: the predicted durations its nodes
/// carry, walked by the scheduler (the model's, at `assumedBandwidth`, for older plan files).
public enum Estimate {
    public static func timeline(_ plan: PlanFile, assumedBandwidth: UInt64 = 1 << 30) -> Timeline {
        var model = DurationModel()
        model.assumedBandwidthBytesPerSec = assumedBandwidth
        return Timeline.estimate(plan, model: model)
    }
}
