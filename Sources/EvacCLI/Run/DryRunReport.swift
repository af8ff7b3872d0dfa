import ArgumentParser
import EvacCore
import EvacRun
import Foundation

/// What `apply --dry-run` prints: every migration in plan order with its pre-check verdict,
/// what will not move and why, the estimated timeline, and the exit code the apply would have
/// (the dry run exits with it too, by the same rule: `RunExit.code`).
enum DryRunReport {
    /// The dry run's exit code: the apply's, had every host stayed as it is now.
    static func exitCode(_ plan: PlanFile, _ result: DryRunResult) -> ExitCode {
        RunExit.code(result.status, unplaceable: !plan.unplaceable.isEmpty)
    }

    static func render(_ plan: PlanFile, _ result: DryRunResult) -> String {
        let checks = result.checks
        var out =
            "Dry run of \(TerminalText.escape(plan.planName)) (\(plan.planHash.prefix(12))): \(checks.count) migration(s), nothing changed\n\n"
        var t = Table()
        t.rightAligned = [0]
        t.add(["#", "guest", "source", "", "target", "pre-checks"])
        for c in checks {
            t.add(["\(c.id)", c.guest, c.source, "→", c.target, c.problem.map { "would be blocked: \($0)" } ?? "ok"])
        }
        out += t.render()
        out += unplaceable(plan.unplaceable)
        let l = plan.graph.limits
        out += "\nLimits: \(l.total) in flight, \(l.perSource) per source, \(l.perTarget) per target"
        out +=
            l.groups.isEmpty
            ? "" : "; " + l.groups.map { "\(TerminalText.escape($0.name)) \($0.maxInFlight)" }.joined(separator: ", ")
        out += "\nEstimated duration: about \(Format.duration(ms: plan.estimatedDurationMs))\n"
        out += verdict(plan, result) + "\n"
        return out
    }

    /// Guests the plan leaves where they are, each with why: its own reason, or each candidate
    /// target's (and the filter that refused it).
    private static func unplaceable(_ us: [Unplaceable]) -> String {
        guard !us.isEmpty else { return "" }
        var out = "\n\(us.count) guest(s) unplaceable, they stay on their sources (not part of the run):\n"
        for u in us {
            out += "  \(TerminalText.escape(u.guest)) on \(TerminalText.escape(u.source))"
            out += u.guestReason.map { ": \(TerminalText.escape($0))" } ?? ""
            out += "\n"
            for c in u.candidates {
                out +=
                    "    \(TerminalText.escape(c.target)): \(TerminalText.escape(c.reason)) (filter \(TerminalText.escape(c.filter.rawValue)))\n"
            }
        }
        return out
    }

    /// The last line: all pass only when every migration's pre-checks pass and every guest of
    /// the plan has a migration; otherwise what will not move, and the apply's exit code.
    static func verdict(_ plan: PlanFile, _ result: DryRunResult) -> String {
        let code = exitCode(plan, result).rawValue
        if result.status == .cannotStart {
            return "The apply would not start: \(result.message ?? "a source did not answer") (exit \(code))."
        }
        let blocked = result.blocked.count
        if blocked == 0 && plan.unplaceable.isEmpty { return "All pre-checks pass." }
        var what: [String] = []
        if blocked > 0 { what.append("\(blocked) migration(s) would be blocked") }
        if !plan.unplaceable.isEmpty { what.append("\(plan.unplaceable.count) guest(s) unplaceable") }
        return "Not everything will move: \(what.joined(separator: ", ")); the apply would exit \(code) (partial)."
    }

    /// `--output json`: one JSON object (sorted keys) with the plan, every check and the verdict,
    /// for scripts that gate a maintenance window on the dry run.
    static func json(_ plan: PlanFile, _ result: DryRunResult) -> String {
        struct Report: Encodable {
            var planName: String
            var planHash: String
            var checks: [DryRunCheck]
            var blocked: Int
            var unplaceable: [String]
            /// Each unplaceable guest with its reason, or every candidate's rejection.
            var unplaceableDetails: [Unplaceable]
            var estimatedDurationMs: Double
            var allPass: Bool
            /// How the apply would end (all-done, partial, cannot-start) and its exit code.
            var status: String
            var exitCode: Int32
            var message: String?
        }
        let code = exitCode(plan, result)
        let report = Report(
            planName: plan.planName, planHash: plan.planHash, checks: result.checks, blocked: result.blocked.count,
            unplaceable: plan.unplaceable.map(\.guest), unplaceableDetails: plan.unplaceable,
            estimatedDurationMs: plan.estimatedDurationMs, allPass: code == EvacExit.success,
            status: result.status.rawValue, exitCode: code.rawValue, message: result.message)
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return ((try? e.encode(report)).map { String(decoding: $0, as: UTF8.self) } ?? "{}") + "\n"
    }
}
