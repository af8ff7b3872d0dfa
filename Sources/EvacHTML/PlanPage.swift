import EvacCore

/// `evac plan --output html`: one self-contained page for a change ticket — the estimated
/// timeline as a Gantt chart, each target's memory before and after against capacity and
/// reserve, the guests nothing can take with the reason per candidate, and the migration list.
/// A pure function of the plan file and its timeline estimate.
public enum PlanPage {
    /// The maintenance window, relative to the start of the run: the plan's `window:` or
    /// `evac plan --window`'s what-if.
    public struct Window: Sendable, Hashable {
        /// When the window closes, after the start of the run.
        public var endMs: Double
        /// The window's rule. With `late: skip` the page shows what the executor is predicted
        /// to start (`Timeline.windowed`: a migration predicted to end after the close is not
        /// started, and what depends on it waits). Without one, or with `late: start`, every
        /// migration starts and the page marks those that end after the close.
        public var rule: MaintenanceWindow?
        public init(endMs: Double, rule: MaintenanceWindow? = nil) {
            self.endMs = endMs
            self.rule = rule
        }

        /// The executor's predicted run under the rule; nil when every migration starts.
        func predicted(_ plan: PlanFile, _ timeline: Timeline) -> Timeline.Windowed? {
            guard let rule, rule.late == .skip else { return nil }
            return Timeline.windowed(plan, estimate: timeline, window: rule, closesMs: endMs)
        }
    }

    /// What the chart and the list show: the estimate, or under a skipping window the
    /// executor's predicted run, whose migrations not started are outlined at the time they
    /// were refused.
    struct Drawn {
        var entries: [Timeline.Entry]
        var late: Set<Int>
        /// Why a migration does not run in the window (by node id).
        var notStarted: [Int: String] = [:]
        var predicted: Timeline.Windowed?

        init(_ plan: PlanFile, _ timeline: Timeline, _ window: Window?) {
            guard let window, let run = window.predicted(plan, timeline) else {
                entries = timeline.entries
                late = Set(window.map { w in timeline.entries.filter { $0.endMs > w.endMs }.map(\.id) } ?? [])
                return
            }
            predicted = run
            entries = run.started + run.refused
            late = Set(run.refused.map(\.id))
            for e in run.refused { notStarted[e.id] = "not started: predicted to end after the window closes" }
            for id in run.waiting { notStarted[id] = "not started: waits for a migration not started" }
        }
    }

    /// Above this many targets the chart has one lane per parallelism slot instead.
    static let maxTargetLanes = 48
    /// Longest lists drawn in full (the JSON plan file has everything).
    static let maxTableRows = 1000
    static let maxMemoryRows = 200

    public static func render(plan: PlanFile, timeline: Timeline, window: Window? = nil) -> String {
        let drawn = Drawn(plan, timeline, window)
        var body = header(plan, timeline, window, drawn)
        body += gantt(plan, drawn, window)
        body += MemorySection.render(plan)
        body += unplaceable(plan)
        body += migrations(plan, drawn)
        body += migrationGroups(plan)
        body += staying(plan)
        body += footer(plan)
        return HTML.document(title: "evac plan \(plan.planName)", body: body)
    }

    static func header(_ plan: PlanFile, _ timeline: Timeline, _ window: Window?, _ drawn: Drawn) -> String {
        let memory = plan.graph.nodes.reduce(UInt64(0)) { $0 + $1.memoryKiB }
        let l = plan.graph.limits
        var s = "<h1>Evacuation plan <span class=\"mono\">\(HTML.esc(plan.planName))</span></h1>\n"
        s +=
            "<p class=\"sub\">plan <code>\(plan.planHash.prefix(12))</code> · inventory <code>\(plan.inventoryFingerprint.prefix(12))</code> · "
        let drains =
            plan.sources.count <= 6
            ? plan.sources.joined(separator: ", ")
            : "\(plan.sources.count) sources (\(plan.sources.prefix(3).joined(separator: ", ")), …, \(plan.sources.last ?? ""))"
        s += "from <code>\(HTML.esc(plan.planSource.path))</code> · drains \(HTML.esc(drains)) "
        s += "into \(plan.targets.count) target\(plan.targets.count == 1 ? "" : "s")</p>\n"
        s += "<div class=\"cards\">"
        s += card("migrations", "\(plan.graph.nodes.count)")
        s += card("guest memory moving", Format.kib(memory))
        s += card("estimated duration", "≈ \(Clock.text(ms: timeline.totalMs))")
        s += card("unplaceable", "\(plan.unplaceable.count)", tone: plan.unplaceable.isEmpty ? "ok" : "bad")
        if let (fits, verdict) = windowVerdict(plan, timeline, window, drawn) {
            s += card("window", verdict, tone: fits ? "ok" : "bad", id: "window-verdict")
        }
        s += "</div>\n"
        let bw =
            plan.policy.migration.bandwidthBytesPerSec.map { "\(Format.bytes(Double($0)))/s (the plan's cap)" }
            ?? "\(Format.bytes(Double(timeline.assumedBandwidthBytesPerSec)))/s (assumed: the plan sets no cap)"
        s +=
            "<p class=\"note\">Limits: \(l.total) in flight, \(l.perSource) per source, \(l.perTarget) incoming per target"
        s +=
            l.groups.isEmpty
            ? "" : "; " + l.groups.map { "\(HTML.esc($0.name)) \($0.maxInFlight) at a time" }.joined(separator: ", ")
        s += ". Each migration is estimated as \(Clock.text(ms: timeline.setupMs)) of set-up plus its memory at \(bw), "
        s +=
            "then the pages its guest dirtied meanwhile, pass after pass, until what is left fits in the max-downtime.</p>\n"
        return s
    }

    /// Whether the drain fits the window, and the card's words: under a skipping window what
    /// the executor is predicted to start, else the estimate's makespan against the close.
    static func windowVerdict(
        _ plan: PlanFile, _ timeline: Timeline, _ window: Window?, _ drawn: Drawn
    ) -> (fits: Bool, text: String)? {
        if let run = drawn.predicted {
            let count = plan.graph.nodes.count
            let fits = run.refused.isEmpty && run.waiting.isEmpty
            return (
                fits,
                fits
                    ? "all \(count) start in it"
                    : "\(run.started.count) of \(count) start; \(count - run.started.count) left for a resume"
            )
        }
        guard let w = window else { return nil }
        let fits = timeline.totalMs <= w.endMs
        return (
            fits,
            fits ? "fits in \(Clock.text(ms: w.endMs))" : "overruns by \(Clock.text(ms: timeline.totalMs - w.endMs))"
        )
    }

    static func card(_ key: String, _ value: String, tone: String? = nil, id: String? = nil) -> String {
        "<div class=\"card\(tone.map { " " + $0 } ?? "")\"\(id.map { " id=\"\($0)\"" } ?? "")><div class=\"k\">\(HTML.esc(key))</div><div class=\"v\">\(HTML.esc(value))</div></div>"
    }

    /// Lanes per target (or per slot for large plans), bars coloured by wave.
    static func gantt(_ plan: PlanFile, _ drawn: Drawn, _ window: Window?) -> String {
        let entries = drawn.entries
        let nodes = Dictionary(plan.graph.nodes.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let slots = Slots.assign(entries.map { ($0.id, $0.startMs, $0.endMs) })
        let targets = Array(Set(plan.graph.nodes.map(\.target))).sorted()
        let perTarget = targets.count <= maxTargetLanes
        var lanes: [Gantt.Lane]
        var laneOf: (MigrationGraph.Node, Int) -> Int
        if perTarget {
            let index = Dictionary(targets.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
            let incoming = Dictionary(grouping: plan.graph.nodes, by: \.target).mapValues(\.count)
            lanes = targets.map { Gantt.Lane(label: $0, detail: "+\(incoming[$0] ?? 0)") }
            laneOf = { n, _ in index[n.target] ?? 0 }
        } else {
            let count = (slots.values.map(\.slot).max() ?? -1) + 1
            lanes = (0..<count).map { Gantt.Lane(label: "slot \($0 + 1)", detail: "") }
            laneOf = { _, slot in slot }
        }
        var bars: [Gantt.Bar] = []
        bars.reserveCapacity(entries.count)
        let maxWave = slots.values.map(\.wave).max() ?? 0
        // Thousands of waves cannot each have a colour: eight bands of consecutive waves show
        // the run's progress instead.
        let banded = entries.count > Gantt.detailLimit && maxWave > Style.waves.count
        func colour(_ wave: Int) -> Int {
            banded ? (wave - 1) * Style.waves.count / maxWave + 1 : (wave - 1) % Style.waves.count + 1
        }
        for e in entries {
            guard let n = nodes[e.id] else { continue }
            let (slot, wave) = slots[e.id] ?? (0, 1)
            let late = drawn.late.contains(e.id)
            // Tooltips exist only in the detailed chart; a dense one has no element to put them on.
            let title =
                entries.count > Gantt.detailLimit
                ? ""
                : "#\(n.id) \(n.guest): \(n.source) → \(n.target), \(Format.kib(n.memoryKiB)), wave \(wave), "
                    + "\(Clock.text(ms: e.startMs))–\(Clock.text(ms: e.endMs))"
                    + (n.after.isEmpty ? "" : ", after " + n.after.map { "#\($0)" }.joined(separator: ","))
                    + (drawn.notStarted[n.id].map { " (\($0))" } ?? "")
            bars.append(
                Gantt.Bar(
                    id: n.id, lane: laneOf(n, slot), startMs: e.startMs, endMs: e.endMs,
                    fillClass: "w\(colour(wave))", title: title, late: late, guest: n.guest))
        }
        var chart = Gantt(id: "gantt", lanes: lanes, bars: bars, windowEndMs: window?.endMs)
        if perTarget { chart.stackTracks() }
        var s = "<h2>Timeline (estimate)</h2>\n"
        s +=
            "<p class=\"note\">One lane per \(perTarget ? "target (+N: incoming migrations)" : "parallelism slot (\(targets.count) targets are too many for a lane each)"); "
        s += "the k-th migration each slot runs is in wave k (\(maxWave) wave\(maxWave == 1 ? "" : "s")).</p>\n"
        s += legend(maxWave: maxWave, banded: banded, window: window, skipping: drawn.predicted != nil)
        if !chart.isDetailed {
            s +=
                "<p class=\"note\">\(bars.count) migrations are drawn without per-bar details; the migration list and `evac plan --output json` have them.</p>\n"
        }
        return s + chart.svg()
    }

    static func legend(maxWave: Int, banded: Bool, window: Window?, skipping: Bool) -> String {
        let windowKey =
            window == nil
            ? ""
            : skipping
                ? "<span><i style=\"background:#c62828\"></i>window end; outlined bars are not started (they would end after it)</span>"
                : "<span><i style=\"background:#c62828\"></i>window end; outlined bars end after it</span>"
        var s = "<div class=\"legend\">"
        if banded {
            for b in 0..<Style.waves.count {
                let first = (b * maxWave + Style.waves.count - 1) / Style.waves.count + 1
                let last = ((b + 1) * maxWave + Style.waves.count - 1) / Style.waves.count
                s += "<span><i style=\"background:\(Style.waves[b])\"></i>waves \(first)–\(last)</span>"
            }
            return s + windowKey + "</div>\n"
        }
        for w in 1...max(1, min(maxWave, Style.waves.count)) {
            s +=
                "<span><i style=\"background:\(Style.waves[w - 1])\"></i>wave \(w)\(maxWave > Style.waves.count && w == Style.waves.count ? "…" : "")</span>"
        }
        if maxWave > Style.waves.count { s += "<span>(colours repeat every \(Style.waves.count) waves)</span>" }
        return s + windowKey + "</div>\n"
    }

    static func unplaceable(_ plan: PlanFile) -> String {
        var s = "<h2>Unplaceable guests (\(plan.unplaceable.count))</h2>\n"
        if plan.unplaceable.isEmpty {
            return s + "<p id=\"unplaceable\" class=\"note\">None: every selected guest has a target.</p>\n"
        }
        s +=
            "<table id=\"unplaceable\"><thead><tr><th>guest</th><th>on</th><th class=\"n\">memory</th><th class=\"n\">vCPU</th><th>why no target takes it</th></tr></thead><tbody>\n"
        for u in plan.unplaceable {
            s +=
                "<tr class=\"unplaceable\" data-guest=\"\(HTML.esc(u.guest))\"><td class=\"nw\">\(HTML.esc(u.guest))</td><td class=\"nw\">\(HTML.esc(u.source))</td>"
            s += "<td class=\"n nw\">\(Format.kib(u.memoryKiB))</td><td class=\"n\">\(u.vcpus)</td><td>"
            if let why = u.guestReason { s += HTML.esc(why) }
            if !u.candidates.isEmpty {
                s +=
                    "<ul class=\"reasons\">"
                    + u.candidates.map { "<li><b>\(HTML.esc($0.target))</b>: \(HTML.esc($0.reason))</li>" }.joined()
                    + u.unlisted.map { "<li>… and \($0.targets) more refused by \(HTML.esc($0.filter.rawValue))</li>" }
                    .joined()
                    + "</ul>"
            }
            s += "</td></tr>\n"
        }
        return s + "</tbody></table>\n"
    }

    static func migrations(_ plan: PlanFile, _ drawn: Drawn) -> String {
        let entries = Dictionary(drawn.entries.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var s = "<h2>Migrations (\(plan.graph.nodes.count), in plan order)</h2>\n"
        if plan.graph.nodes.isEmpty { return s + "<p class=\"note\">None.</p>\n" }
        s +=
            "<table id=\"migrations\"><thead><tr><th class=\"n\">#</th><th>guest</th><th>source → target</th><th class=\"n\">memory</th>"
        s +=
            "<th>mode</th><th>after</th><th class=\"n\">start</th><th class=\"n\">end</th><th>note</th></tr></thead><tbody>\n"
        for n in plan.graph.nodes.prefix(maxTableRows) {
            let e = drawn.notStarted[n.id] == nil ? entries[n.id] : nil
            s +=
                "<tr><td class=\"n\">\(n.id)</td><td class=\"nw\">\(HTML.esc(n.guest))</td><td class=\"nw\">\(HTML.esc(n.source)) → \(HTML.esc(n.target))</td>"
            s +=
                "<td class=\"n\">\(Format.kib(n.memoryKiB))</td><td>\(n.mode.rawValue)</td><td>\(n.after.map { "#\($0)" }.joined(separator: " "))</td>"
            s +=
                "<td class=\"n\">\(e.map { Clock.text(ms: $0.startMs) } ?? "")</td><td class=\"n\">\(e.map { Clock.text(ms: $0.endMs) } ?? "")</td>"
            s +=
                "<td>\(HTML.esc([drawn.notStarted[n.id], n.copyStorage.isEmpty ? nil : "copies " + n.copyStorage.joined(separator: ","), n.offMostFree].compactMap { $0 }.joined(separator: "; ")))</td></tr>\n"
        }
        s += "</tbody></table>\n"
        if plan.graph.nodes.count > maxTableRows {
            s += "<p class=\"note\">The first \(maxTableRows) of \(plan.graph.nodes.count) are listed.</p>\n"
        }
        return s
    }

    /// With `migration.groups`: the plan's options and each group's, in full (what the group's
    /// keys over the plan's make), the patterns it was chosen by, and the migrations it got.
    static func migrationGroups(_ plan: PlanFile) -> String {
        guard let groups = plan.policy.migrationGroups, !groups.isEmpty else { return "" }
        var members: [String: [MigrationGraph.Node]] = [:]
        for n in plan.graph.nodes { members[n.migrationGroup ?? "", default: []].append(n) }
        var s = "<h2>Migration groups (\(groups.count))</h2>\n"
        s += "<p class=\"note\">A guest migrates with the options of the first group whose patterns match its name, "
        s += "else with the plan's.</p>\n"
        s +=
            "<table id=\"migration-groups\"><thead><tr><th>group</th><th>guests</th><th>options</th><th>migrations</th></tr></thead><tbody>\n"
        func row(_ name: String?, patterns: String, _ options: MigrationOptions) -> String {
            let nodes = members[name ?? ""] ?? []
            let shown = nodes.prefix(maxTableRows).map { "#\($0.id) \(HTML.esc($0.guest))" }.joined(separator: ", ")
            let more = nodes.count > maxTableRows ? ", … \(nodes.count - maxTableRows) more" : ""
            let attr = name.map { " data-group=\"\(HTML.esc($0))\"" } ?? " data-group=\"\""
            return "<tr class=\"migration-group\"\(attr) data-migrations=\"\(nodes.count)\">"
                + "<td class=\"nw\">\(name.map(HTML.esc) ?? "<i>the plan's</i>")</td><td>\(HTML.esc(patterns))</td>"
                + "<td>\(HTML.esc(options.summary))</td><td>\(nodes.isEmpty ? "none" : "\(nodes.count): " + shown + more)</td></tr>\n"
        }
        for g in groups { s += row(g.name, patterns: g.guests.joined(separator: ", "), g.options) }
        s += row(nil, patterns: "every other guest", plan.policy.migration)
        return s + "</tbody></table>\n"
    }

    static func staying(_ plan: PlanFile) -> String {
        guard !plan.skipped.isEmpty else { return "" }
        var s =
            "<h2>Staying by the plan's selection (\(plan.skipped.count))</h2>\n<table id=\"staying\"><thead><tr><th>guest</th><th>on</th><th>why</th></tr></thead><tbody>\n"
        for g in plan.skipped.prefix(maxTableRows) {
            s += "<tr><td>\(HTML.esc(g.guest))</td><td>\(HTML.esc(g.source))</td><td>\(HTML.esc(g.why))</td></tr>\n"
        }
        return s + "</tbody></table>\n"
    }

    static func footer(_ plan: PlanFile) -> String {
        var s = "<footer>"
        if !plan.notes.isEmpty { s += plan.notes.map { "<p>\(HTML.esc($0))</p>" }.joined() }
        s += "Written by evac \(HTML.esc(plan.evacVersion)) from plan file \(plan.planHash.prefix(12)). "
        s += "The page is self-contained: it loads nothing from the network.</footer>\n"
        return s
    }
}
