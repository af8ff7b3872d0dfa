import EvacCore
import Foundation

/// The report `evac plan` prints for people: what moves where, what cannot move and why,
/// what the targets look like before and after, and how long it should take.
enum HumanReport {
    static func render(_ p: PlanPipeline) -> String {
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

        out += "\nPlacements (\(r.placements.count), in migration order)\n"
        if r.placements.isEmpty {
            out += "  none\n"
        } else {
            var t = Table()
            t.rightAligned = [0, 5, 6]
            t.add(["#", "guest", "source", "", "target", "memory", "vCPU", "mode", "after", "note"])
            for n in p.graph.nodes {
                t.add([
                    "\(n.id)", n.guest, n.source, "→", n.target, Format.kib(n.memoryKiB), "\(n.vcpus)", n.mode.rawValue,
                    n.after.isEmpty ? "" : n.after.map { "#\($0)" }.joined(separator: ","),
                    [n.copyStorage.isEmpty ? nil : "copies \(n.copyStorage.joined(separator: ","))", n.offMostFree]
                        .compactMap { $0 }.joined(separator: "; "),
                ])
            }
            out += t.render()
        }

        if !r.unplaceable.isEmpty {
            out += "\nUnplaceable (\(r.unplaceable.count))\n"
            for u in r.unplaceable {
                out += "  \(esc(u.guest)) on \(esc(u.source)) (\(Format.kib(u.memoryKiB)), \(u.vcpus) vCPU)"
                if let why = u.guestReason { out += ": \(esc(why))" }
                out += "\n"
                for c in u.candidates { out += "    \(esc(c.target)): \(esc(c.reason))\n" }
            }
        }

        if !r.skipped.isEmpty {
            out += "\nStaying (\(r.skipped.count))\n"
            var t = Table()
            for s in r.skipped { t.add([s.guest, "on \(s.source)", s.why]) }
            out += t.render()
        }

        out +=
            "\nTargets (memory is configured guest memory; reserve \(Format.kib(spec.constraints.memoryReserveBytes / 1024)))\n"
        var t = Table()
        t.rightAligned = [1, 2, 3, 4, 5, 6, 7]
        t.add(["host", "memory", "used before", "used after", "headroom", "free now", "vCPU before → after", "in"])
        for u in r.targets {
            let free = p.inventory.host(named: u.host)?.freeMemoryKiB ?? 0
            let ratio = u.cpus > 0 ? String(format: " (%.2f/cpu)", Double(u.vcpusAfter) / Double(u.cpus)) : ""
            t.add([
                u.host, Format.kib(u.memoryKiB), Format.kib(u.usedBeforeKiB), Format.kib(u.usedAfterKiB),
                Format.kib(signed: u.headroomAfterKiB), free == 0 ? "n/a" : Format.kib(free),
                "\(u.vcpusBefore) → \(u.vcpusAfter) of \(u.cpus)\(ratio)", "+\(u.incoming)",
            ])
        }
        for u in p.inventory.unreachable where spec.targetNames.contains(u.name) {
            t.add([u.name, "unreachable", "", "", "", "", "", ""])
        }
        out += t.render()

        out += "\nSources\n"
        var s = Table()
        for name in spec.sourceNames {
            guard let host = p.inventory.host(named: name) else { continue }
            let moving = r.placements.filter { $0.source == name }.count
            let stuck = r.unplaceable.filter { $0.source == name }.count
            let staying = r.skipped.filter { $0.source == name }.count
            let left = stuck + staying
            s.add([
                name, "\(host.guests.count) guests", "\(moving) move", "\(stuck) unplaceable", "\(staying) staying",
                left == 0 ? "empty after the drain" : "\(left) left after the drain",
            ])
        }
        out += s.render()

        out += "\nTimeline (estimate)\n"
        let l = p.graph.limits
        let bw =
            spec.migration.bandwidthBytesPerSec.map { "\(Format.bytes(Double($0)))/s (plan's cap)" }
            ?? "\(Format.bytes(Double(p.timeline.assumedBandwidthBytesPerSec)))/s (assumed; the plan sets no cap)"
        out += "  limits: \(l.total) in flight, \(l.perSource) per source, \(l.perTarget) per target"
        out +=
            l.groups.isEmpty ? "" : "; " + l.groups.map { "\(esc($0.name)) \($0.maxInFlight)" }.joined(separator: ", ")
        out += "\n  each migration: \(Format.duration(ms: p.timeline.setupMs)) setup + memory at \(bw)\n"
        let totalMemory = p.graph.nodes.reduce(UInt64(0)) { $0 &+ $1.memoryKiB }
        out +=
            "  \(p.graph.nodes.count) migrations, \(Format.kib(totalMemory)) of guest memory: about \(Format.duration(ms: p.timeline.totalMs))"
        out += " (a lower bound: busy guests resend dirty pages)\n"
        if !r.notes.isEmpty {
            out += "\nNotes\n" + r.notes.map { "  \(esc($0))\n" }.joined()
        }

        out += "\nResult: \(r.placements.count) of \(selected) guests to move placed"
        out += r.unplaceable.isEmpty ? "" : "; \(r.unplaceable.count) unplaceable"
        out += r.skipped.isEmpty ? "" : "; \(r.skipped.count) staying by the plan's selection"
        out += "\n"
        return out
    }
}

/// Names in the report come from the plan and the inventory: escaped for the terminal.
private func esc(_ s: String) -> String { TerminalText.escape(s) }
