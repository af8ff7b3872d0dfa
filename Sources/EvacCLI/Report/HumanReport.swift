import EvacCore
import Foundation

/// The report `evac plan` prints for people: what moves where, what cannot move and why,
/// what the targets look like before and after, and how long it should take.
enum HumanReport {
    static func render(_ p: PlanPipeline) -> String {
        var out = header(p)
        out += placements(p)
        out += unplaceable(p)
        out += staying(p)
        out += targets(p)
        out += sources(p)
        out += timeline(p)
        out += resultLine(p)
        return out
    }

    /// How many guests move from how many sources to how many targets, and the two hashes that
    /// name this plan.
    private static func header(_ p: PlanPipeline) -> String {
        let spec = p.loaded.spec
        let r = p.result
        var out = ""
        let guestsOnSources = spec.sourceNames.compactMap { p.inventory.host(named: $0) }.reduce(0) {
            $0 + $1.guests.count
        }
        // Both counts: every guest on the sources, and those the selection moves (the result's
        // denominator), so the header and the result line agree at a glance.
        let selected = r.placements.count + r.unplaceable.count
        out +=
            "Plan \(esc(spec.name)): \(guestsOnSources) guests on \(spec.sources.count) source\(spec.sources.count == 1 ? "" : "s")"
        out += r.skipped.isEmpty ? "" : " (\(selected) to move, \(r.skipped.count) staying)"
        out += " → "
        out += "\(p.planFile.targetUsage.count) target\(p.planFile.targetUsage.count == 1 ? "" : "s")"
        out += " (inventory \(p.planFile.inventoryFingerprint.prefix(12)), plan \(p.planFile.planHash.prefix(12)))\n"
        return out
    }

    /// Every migration in the plan's order, with when the estimate starts it and for how long
    /// (and, when the plan has migration groups, whose options it uses).
    private static func placements(_ p: PlanPipeline) -> String {
        var out = "\nPlacements (\(p.result.placements.count), in migration order)\n"
        guard !p.result.placements.isEmpty else { return out + "  none\n" }
        var t = Table()
        t.rightAligned = [0, 5, 6, 8, 9]
        // The options column only when some guests migrate with a group's options.
        let grouped = !p.loaded.spec.migrationGroups.isEmpty
        t.add(
            ["#", "guest", "source", "", "target", "memory", "vCPU", "mode", "starts", "takes", "after"]
                + (grouped ? ["options"] : []) + ["note"])
        let starts = Dictionary(p.timeline.entries.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for n in p.graph.nodes {
            let e = starts[n.id]
            var row: [String] = [
                "\(n.id)", n.guest, n.source, "→", n.target, Format.kib(n.memoryKiB), "\(n.vcpus)", n.mode.rawValue,
            ]
            row.append(e.map { "+" + Format.duration(ms: $0.startMs) } ?? "")
            row.append(e.map { Format.duration(ms: $0.durationMs) } ?? "")
            row.append(n.after.isEmpty ? "" : n.after.map { "#\($0)" }.joined(separator: ","))
            if grouped { row.append(n.migrationGroup.map { "group " + $0 } ?? "plan") }
            let copies: String? = n.copyStorage.isEmpty ? nil : "copies \(n.copyStorage.joined(separator: ","))"
            row.append([copies, n.offMostFree].compactMap { $0 }.joined(separator: "; "))
            t.add(row)
        }
        return out + t.render()
    }

    /// The guests no target can take, each with its candidates' reasons (up to
    /// `Unplaceable.listedPerFilter` per filter, the rest counted).
    private static func unplaceable(_ p: PlanPipeline) -> String {
        let spec = p.loaded.spec
        let r = p.result
        guard !r.unplaceable.isEmpty else { return "" }
        var out = "\nUnplaceable (\(r.unplaceable.count))\n"
        for u in r.unplaceable {
            // With priorities in the plan, each guest left says its own: what was weighed.
            let priority =
                spec.placement.priority.isEmpty ? "" : ", priority \(spec.placement.priority(of: u.guest))"
            out += "  \(esc(u.guest)) on \(esc(u.source)) (\(Format.kib(u.memoryKiB)), \(u.vcpus) vCPU\(priority))"
            if let why = u.guestReason { out += ": \(esc(why))" }
            out += "\n"
            for c in u.candidates { out += "    \(esc(c.target)): \(esc(c.reason))\n" }
            for t in u.unlisted { out += "    … and \(t.targets) more refused by \(esc(t.filter.rawValue))\n" }
        }
        return out
    }

    /// The guests the plan's selection leaves where they are.
    private static func staying(_ p: PlanPipeline) -> String {
        let r = p.result
        guard !r.skipped.isEmpty else { return "" }
        var t = Table()
        for s in r.skipped { t.add([s.guest, "on \(s.source)", s.why]) }
        return "\nStaying (\(r.skipped.count))\n" + t.render()
    }

    /// Each target's memory and vCPUs before and after, and the unreachable ones.
    private static func targets(_ p: PlanPipeline) -> String {
        let spec = p.loaded.spec
        var out =
            "\nTargets (memory is configured guest memory; reserve \(Format.kib(spec.constraints.memoryReserveBytes / 1024)))\n"
        var t = Table()
        t.rightAligned = [1, 2, 3, 4, 5, 6, 7]
        t.add(["host", "memory", "used before", "used after", "headroom", "free now", "vCPU before → after", "in"])
        for u in p.result.targets {
            let free = p.inventory.host(named: u.host)?.freeMemoryKiB ?? 0
            let ratio = u.cpus > 0 ? String(format: " (%.2f/cpu)", Double(u.vcpusAfter) / Double(u.cpus)) : ""
            t.add([
                u.host, Format.kib(u.memoryKiB), Format.kib(u.usedBeforeKiB), Format.kib(u.usedAfterKiB),
                Format.kib(signed: u.headroomAfterKiB), free == 0 ? "n/a" : Format.kib(free),
                "\(u.vcpusBefore) → \(u.vcpusAfter) of \(u.cpus)\(ratio)", "+\(u.incoming)",
            ])
        }
        let targetNames = Set(spec.targetNames)
        for u in p.inventory.unreachable where targetNames.contains(u.name) {
            t.add([u.name, "unreachable", "", "", "", "", "", ""])
        }
        out += t.render()
        return out
    }

    /// What each source keeps after the drain.
    private static func sources(_ p: PlanPipeline) -> String {
        let r = p.result
        var s = Table()
        // Counted once per list, not by filtering every list for each source (quadratic at 2,000 sources).
        var moves: [String: Int] = [:]
        var stucks: [String: Int] = [:]
        var stays: [String: Int] = [:]
        for x in r.placements { moves[x.source, default: 0] += 1 }
        for x in r.unplaceable { stucks[x.source, default: 0] += 1 }
        for x in r.skipped { stays[x.source, default: 0] += 1 }
        for name in p.loaded.spec.sourceNames {
            guard let host = p.inventory.host(named: name) else { continue }
            let moving = moves[name] ?? 0
            let stuck = stucks[name] ?? 0
            let staying = stays[name] ?? 0
            let left = stuck + staying
            s.add([
                name, "\(host.guests.count) guests", "\(moving) move", "\(stuck) unplaceable", "\(staying) staying",
                left == 0 ? "empty after the drain" : "\(left) left after the drain",
            ])
        }
        return "\nSources\n" + s.render()
    }

    /// The limits, the estimate and its assumptions, the window and placement's notes.
    private static func timeline(_ p: PlanPipeline) -> String {
        let spec = p.loaded.spec
        var out = "\nTimeline (estimate)\n"
        let l = p.graph.limits
        let bw =
            spec.migration.bandwidthBytesPerSec.map { "\(Format.bytes(Double($0)))/s (plan's cap)" }
            ?? "\(Format.bytes(Double(p.timeline.assumedBandwidthBytesPerSec)))/s (assumed; the plan sets no cap)"
        out += "  limits: \(l.total) in flight, \(l.perSource) per source, \(l.perTarget) per target"
        out +=
            l.groups.isEmpty ? "" : "; " + l.groups.map { "\(esc($0.name)) \($0.maxInFlight)" }.joined(separator: ", ")
        out += "\n" + timelineLines(p, bandwidth: bw)
        out += migrationOptions(p)
        out += nonConverging(p, bandwidth: bw)
        out += window(p, now: Date())
        if !p.result.notes.isEmpty {
            out += "\nNotes\n" + p.result.notes.map { "  \(esc($0))\n" }.joined()
        }
        return out
    }

    /// How many of the selected guests placement placed, and what is left.
    private static func resultLine(_ p: PlanPipeline) -> String {
        let r = p.result
        let selected = r.placements.count + r.unplaceable.count
        var out = "\nResult: \(r.placements.count) of \(selected) guests to move placed"
        out += r.unplaceable.isEmpty ? "" : "; \(r.unplaceable.count) unplaceable"
        out += r.skipped.isEmpty ? "" : "; \(r.skipped.count) staying by the plan's selection"
        out += "\n"
        return out
    }
}

extension HumanReport {
    /// How each migration's duration was predicted, and the makespan.
    static func timelineLines(_ p: PlanPipeline, bandwidth bw: String) -> String {
        let o = p.loaded.spec.migration
        let running = p.graph.nodes.filter { $0.mode == .live }
        let loads = p.inventory.migrationLoads
        let measured = running.filter { loads[$0.uuid]?.dirtyBytesPerSec != nil }.count
        var out = "  each migration: \(Format.duration(ms: p.model.setupMs)) setup + memory at \(bw)"
        out += ", then what the guest dirtied meanwhile,\n    pass after pass, until what is left fits in"
        out += " max-downtime \(o.maxDowntimeMs)ms\(o.compression ? " (re-sent pages compressed)" : "")\n"
        out +=
            "  dirty rates: measured for \(measured) of \(running.count) live migration\(running.count == 1 ? "" : "s")"
        out += measured < running.count ? " (the others are taken as idle)\n" : "\n"
        let totalMemory = p.graph.nodes.reduce(UInt64(0)) { $0 &+ $1.memoryKiB }
        out += "  \(p.graph.nodes.count) migrations, \(Format.kib(totalMemory)) of guest memory:"
        out += " about \(Format.duration(ms: p.timeline.totalMs)) until the last one ends\n"
        return out
    }

    /// Every guest predicted not to converge by pre-copy under the plan's options, and what evac
    /// (or the operator) does about it.
    static func nonConverging(_ p: PlanPipeline, bandwidth bw: String) -> String {
        let o = p.loaded.spec.migration
        let loads = p.inventory.migrationLoads
        let stuck = zip(p.graph.nodes, p.predictions).filter { !$0.1.outcome.convergesByPreCopy }
        guard !stuck.isEmpty else { return "" }
        var out =
            "\nPredicted not to converge by pre-copy (\(stuck.count); bandwidth \(bw), max-downtime \(o.maxDowntimeMs)ms\(p.loaded.spec.migrationGroups.isEmpty ? "" : " unless the guest's group sets others"))\n"
        let options = p.planFile.policy.migrationOptions
        for (n, pr) in stuck {
            let rate = loads[n.uuid]?.dirtyBytesPerSec.map { "\(Format.bytes(Double($0)))/s" } ?? "unknown"
            let group = n.migrationGroup.map { ", migration group \(esc($0))" } ?? ""
            out += "  #\(n.id) \(esc(n.guest)) (\(Format.kib(n.memoryKiB)), dirties \(rate)\(group)): "
            out += esc(DurationModel.remedy(pr, options: options.options(for: n)) ?? "") + "\n"
        }
        return out
    }
}

extension HumanReport {
    /// Which migrations the estimate ends inside the maintenance window (taking the run to start
    /// now when the window is an end time), and what the executor does with the others.
    static func window(_ p: PlanPipeline, now: Date) -> String {
        guard let w = p.loaded.spec.window else { return "" }
        let closesMs = w.closes(runStart: now).timeIntervalSince(now) * 1000
        var out = "\nMaintenance window: "
        if let d = w.durationMs {
            out += "\(Format.duration(ms: Double(d))) from the start of evac apply\n"
        } else {
            let f = ISO8601DateFormatter()
            out += "ends \(f.string(from: w.closes(runStart: now)))"
            out +=
                closesMs > 0
                ? ", \(Format.duration(ms: closesMs)) from now (if the run starts now)\n" : ", which is past\n"
        }
        let byID = Dictionary(p.graph.nodes.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let count = p.timeline.entries.count
        if w.late == .start {
            // Everything starts: the up-front schedule is what runs.
            let late = p.timeline.entries.filter { $0.endMs > closesMs }
            out += "  \(count - late.count) of \(count) migrations are predicted to end inside it"
            if late.isEmpty { return out + "\n" }
            out += "; \(late.count) after it closes (late: start — evac apply starts them anyway):\n"
            for e in late { out += lateLine(e, guest: byID[e.id]?.guest) }
            return out
        }
        // The executor's own rule at each start, over the predicted schedule: a migration it
        // does not start frees its slot for the next.
        let run = windowed(p, closesMs: closesMs)
        out += "  \(run.started.count) of \(count) migrations are predicted to end inside it"
        if run.refused.isEmpty && run.waiting.isEmpty { return out + "\n" }
        out += "; \(run.refused.count) would end after it closes"
        out += run.waiting.isEmpty ? "" : " and \(run.waiting.count) wait for those"
        out += " (evac apply does not start them; resume continues them):\n"
        for e in run.refused { out += lateLine(e, guest: byID[e.id]?.guest) }
        for id in run.waiting {
            out += "    #\(id) \(esc(byID[id]?.guest ?? "?")): waits for a migration not started\n"
        }
        return out
    }

    /// What the executor is predicted to start under the window (`Timeline.windowed`, shared
    /// with the HTML page).
    static func windowed(_ p: PlanPipeline, closesMs: Double) -> Timeline.Windowed {
        guard let w = p.loaded.spec.window else { return Timeline.Windowed() }
        return Timeline.windowed(p.planFile, estimate: p.timeline, window: w, closesMs: closesMs)
    }

    private static func lateLine(_ e: Timeline.Entry, guest: String?) -> String {
        "    #\(e.id) \(esc(guest ?? "?")): predicted +\(Format.duration(ms: e.startMs)) to +\(Format.duration(ms: e.endMs))\n"
    }
}

/// Names in the report come from the plan and the inventory: escaped for the terminal.
private func esc(_ s: String) -> String { TerminalText.escape(s) }
