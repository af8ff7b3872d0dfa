import EvacCore
import EvacRun
import Foundation

/// What `apply --dry-run` prints: every migration in plan order with its pre-check verdict,
/// then the estimated timeline.
enum DryRunReport {
    static func render(_ plan: PlanFile, _ checks: [DryRunCheck]) -> String {
        var out =
            "Dry run of \(TerminalText.escape(plan.planName)) (\(plan.planHash.prefix(12))): \(checks.count) migration(s), nothing changed\n\n"
        var t = Table()
        t.rightAligned = [0]
        t.add(["#", "guest", "source", "", "target", "pre-checks"])
        for c in checks {
            t.add(["\(c.id)", c.guest, c.source, "→", c.target, c.problem.map { "would be blocked: \($0)" } ?? "ok"])
        }
        out += t.render()
        let blocked = checks.filter { $0.problem != nil }.count
        if !plan.unplaceable.isEmpty {
            out +=
                "\n\(plan.unplaceable.count) guest(s) unplaceable, not part of the run: "
                + plan.unplaceable.map(\.guest).joined(separator: ", ") + "\n"
        }
        let l = plan.graph.limits
        out += "\nLimits: \(l.total) in flight, \(l.perSource) per source, \(l.perTarget) per target"
        out +=
            l.groups.isEmpty
            ? "" : "; " + l.groups.map { "\(TerminalText.escape($0.name)) \($0.maxInFlight)" }.joined(separator: ", ")
        out += "\nEstimated duration: about \(Format.duration(ms: plan.estimatedDurationMs))\n"
        out += blocked == 0 ? "All pre-checks pass.\n" : "\(blocked) migration(s) would be blocked.\n"
        return out
    }

    /// `--output json`: one JSON object (sorted keys) with the plan, every check and the verdict,
    /// for scripts that gate a maintenance window on the dry run.
    static func json(_ plan: PlanFile, _ checks: [DryRunCheck]) -> String {
        struct Report: Encodable {
            var planName: String
            var planHash: String
            var checks: [DryRunCheck]
            var blocked: Int
            var unplaceable: [String]
            var estimatedDurationMs: Double
            var allPass: Bool
        }
        let blocked = checks.filter { $0.problem != nil }.count
        let report = Report(
            planName: plan.planName, planHash: plan.planHash, checks: checks, blocked: blocked,
            unplaceable: plan.unplaceable.map(\.guest), estimatedDurationMs: plan.estimatedDurationMs,
            allPass: blocked == 0 && plan.unplaceable.isEmpty)
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return ((try? e.encode(report)).map { String(decoding: $0, as: UTF8.self) } ?? "{}") + "\n"
    }
}
