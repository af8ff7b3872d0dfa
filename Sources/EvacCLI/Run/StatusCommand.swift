import ArgumentParser
import EvacCore
import EvacHTML
import EvacRun
import Foundation

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a run's steps from its journal (or list the journals), without contacting any host.",
        discussion:
            "Reads the journal without taking its lock, so it works while a run is going. Exit codes: 0 shown; 3 no such journal."
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json, html, plain }

    @Argument(
        help: "The plan (YAML), saved plan file (JSON) or journal; omit to list every journal.",
        completion: .file(extensions: ["yaml", "yml", "json", "sqlite"]))
    var plan: String?

    @Option(name: .long, help: "Show the event history of this guest's step(s).")
    var guest: String?

    @Option(
        name: .long,
        help:
            "text for people, json for scripts, html: one self-contained page of the run beside its estimate. With --follow: text (the live display on a terminal), plain (one line per event) or json (JSON Lines)."
    )
    var output: Format = .text

    @Flag(
        name: .long,
        help:
            "Show the newest run live, as the process running it shows it, until it ends (exit code: the run's). Reads the journal only: does not take its lock."
    )
    var follow = false

    @Option(
        name: [.customShort("o"), .customLong("out")],
        help: "With --output html: write the page to this file instead of standard output.",
        completion: .file(extensions: ["html"]))
    var out: String?

    @Option(
        name: .long,
        help: "Directory of run journals (default: $EVAC_STATE_DIR, $XDG_STATE_HOME/evac or ~/.local/state/evac).",
        completion: .directory)
    var stateDir: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The coordinator (a PostgreSQL URL) whose journals to read instead of --state-dir's.",
            discussion: "Default: $EVAC_COORDINATOR. See `evac apply --help`.", valueName: "URL"))
    var coordinator: String?

    @Flag(
        name: .long,
        help:
            "With a coordinator: every run of the fleet, with its lease, the hosts it drains and the capacity reserved on each target."
    )
    var all = false

    @OptionGroup var logging: LogOptions

    /// The coordinator's part of `validate()` (StatusFollow.swift).
    func validateCoordinator() throws {
        if CoordinatedRun.urlText(coordinator) != nil {
            if follow || guest != nil || output == .html || output == .plain {
                throw ValidationError(
                    "with a coordinator, status shows a run (text or json) or the fleet (--all); --follow, --guest and html read journal files only"
                )
            }
        } else if all {
            throw ValidationError(
                "--all lists the runs of a coordinator: give --coordinator URL (or set EVAC_COORDINATOR); without one, status with no plan lists --state-dir's journals"
            )
        }
    }

    func run() async throws {
        if let url = CoordinatedRun.urlText(coordinator) {
            return try await FleetStatus.show(plan: all ? nil : plan, url: url, json: output == .json)
        }
        let dir = stateDir ?? JournalLocation.stateDirectory()
        if follow, let plan { return try await followRun(plan, stateDirectory: dir) }
        guard let plan else { return try list(dir) }
        let found: (plan: PlanFile, journal: String)
        found = try PlanReference.journal(for: plan, stateDirectory: dir, command: "status")
        let status: JournalStatus
        do { status = try JournalStatus.read(path: found.journal) } catch {
            Console.error("error: \(error)\n")
            throw EvacExit.cannotStart
        }
        if let guest {
            let steps = (status.apply + status.rollback).filter { $0.guest == guest }
            guard !steps.isEmpty else {
                Console.error("error: no step for guest \(guest) in \(found.journal)\n")
                throw EvacExit.invalidInput
            }
            var history: [String: [StepEvent]] = [:]
            for s in steps {
                history["\(s.kind.rawValue)"] =
                    (try? JournalStatus.events(path: found.journal, kind: s.kind, id: s.id)) ?? []
            }
            if output == .json {
                try printJSON(history)
            } else {
                for s in steps {
                    let e = TerminalText.escape
                    Console.out(
                        "\(s.kind.rawValue) #\(s.id) \(e(s.guest)) \(e(s.source)) → \(e(s.target)): \(s.state.rawValue)\(s.reason.map { " — \(e($0))" } ?? "")\n"
                    )
                    for ev in history[s.kind.rawValue] ?? [] {
                        Console.out(
                            "  \(e(ev.at))  run \(ev.runID)  \(e(ev.from ?? "-")) → \(e(ev.to ?? "-"))  \(e(ev.message))\(ev.hypervisorError.map { " [\(e($0))]" } ?? "")\n"
                        )
                    }
                    for h in status.hooks(of: s) {
                        Console.out(
                            "  \(e(h.started))  run \(h.runID)  hook \(e(h.hook)) (\(h.point.rawValue), pass \(h.pass)): \(h.state.rawValue)\(h.message.map { " — \(e($0))" } ?? "")\n"
                        )
                        if let o = h.output, h.state != .ok {
                            for line in o.split(separator: "\n").suffix(10) {
                                Console.out("      | \(e(String(line)))\n")
                            }
                        }
                    }
                }
            }
            return
        }
        if output == .html {
            try Console.write(
                Data(RunPage.render(plan: found.plan, timeline: Estimate.timeline(found.plan), status: status).utf8),
                to: out)
        } else if output == .json {
            try printJSON(status)
        } else {
            Console.out(StatusReport.render(status, hooks: found.plan.hooks))
        }
    }

    private func printJSON<T: Encodable>(_ value: T) throws {
        Console.json(String(decoding: try PlanFile.canonicalEncoder().encode(value), as: UTF8.self) + "\n")
    }

    func list(_ dir: String) throws {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter {
            $0.hasSuffix(JournalLocation.journalSuffix)
        }.sorted()
        var rows: [JournalStatus] = []
        var unreadable: [(file: String, why: String)] = []
        // One bad journal must not hide the others: it is reported and the listing goes on.
        for f in files {
            do { rows.append(try JournalStatus.read(path: dir + "/" + f)) } catch {
                unreadable.append((f, "\(error)"))
                Console.error("warning: \(TerminalText.escapeKeepingLines("\(error)"))\n")
            }
        }
        if output == .json {
            try printJSON(rows)
            return
        }
        if rows.isEmpty && unreadable.isEmpty {
            Console.out("no journals in \(TerminalText.escape(dir))\n")
            return
        }
        var t = Table()
        t.add(["journal", "plan", "last run", "done", "failed", "blocked", "pending", "rolled back", "lock"])
        for s in rows {
            let last = s.runs.last.map { "\($0.kind.rawValue) \($0.exitStatus ?? "running?")" } ?? "-"
            let c = s.applyCounts
            t.add([
                (s.path as NSString).lastPathComponent, s.planName, last, "\(c.done)", "\(c.failed)", "\(c.blocked)",
                "\(c.pending + c.running)", "\(c.rolledBack)", s.activeHolder == nil ? "free" : "held",
            ])
        }
        for u in unreadable { t.add([u.file, "(unreadable)", "-", "-", "-", "-", "-", "-", "-"]) }
        Console.out(t.render())
    }
}

enum StatusReport {
    /// The text report; `hooks` (the plan's) gives each hook row the decision its policy took.
    static func render(_ s: JournalStatus, hooks policies: HookSet? = nil) -> String {
        let e = TerminalText.escape
        var out = "Plan \(e(s.planName)) (\(e(String(s.planHash.prefix(12)))))\njournal \(e(s.path))\n"
        out += s.activeHolder.map { "running now: \(e($0))\n" } ?? "no run in progress\n"
        out += "\nRuns\n"
        var r = Table()
        for run in s.runs {
            r.add([
                "\(run.id)", run.kind.rawValue, run.started, "→", run.finished ?? "(unfinished)", run.exitStatus ?? "",
                run.command,
            ])
        }
        out += r.render()
        for (title, steps, c) in [("Apply", s.apply, s.applyCounts), ("Rollback", s.rollback, s.rollbackCounts)]
        where !steps.isEmpty {
            out +=
                "\n\(title): \(c.done) done, \(c.failed) failed, \(c.blocked) blocked, \(c.pending) pending, \(c.running) running"
            out += c.rolledBack > 0 ? ", \(c.rolledBack) rolled back" : ""
            out += " of \(c.total)\n"
            var t = Table()
            t.rightAligned = [0]
            for st in steps.sorted(by: { $0.id < $1.id }) {
                t.add([
                    "\(st.id)", st.guest, st.source, "→", st.target, st.state.rawValue,
                    st.attempt > 1 ? "attempt \(st.attempt)" : "",
                    st.reason ?? "",
                ])
            }
            out += t.render()
        }
        if let cycle = s.cycle, !cycle.isEmpty { out += renderCycle(cycle) }
        if let hooks = s.hooks, !hooks.isEmpty { out += renderHooks(hooks, policies: policies) }
        return out
    }

    /// A rolling cycle: which batch is where (drain, maintenance, waiting, returning, done).
    static func renderCycle(_ cycle: [CycleRecord]) -> String {
        let done = cycle.filter { $0.stage == .done }.count
        let now = cycle.first { $0.stage != .done && $0.stage != .pending }
        var out = "\nRolling cycle: \(done) of \(cycle.count) batch(es) done"
        out += now.map { ", now: \($0.hosts.joined(separator: "+")) \($0.stage.rawValue)" } ?? ""
        out += "\n"
        var t = Table()
        for c in cycle {
            t.add([
                "\(c.batch)", c.hosts.joined(separator: "+"), c.stage.rawValue, c.updated,
                c.phaseJournal.map { "drain journal \(($0 as NSString).lastPathComponent)" } ?? "", c.message ?? "",
            ])
        }
        return out + t.render()
    }

    /// One row per hook, guest pass or host: where it ran, how it ended (exit status, how long
    /// it took, what the run did next). Failures first in the operator's eye: their last
    /// output line is shown (the whole tail: `status --guest`).
    static func renderHooks(_ hooks: [HookRecord], policies: HookSet? = nil) -> String {
        let counts = Dictionary(grouping: hooks, by: \.state).mapValues(\.count)
        let summary = HookRecord.State.allCases.compactMap { st in counts[st].map { "\($0) \(st.rawValue)" } }
        var out = "\nHooks: " + summary.joined(separator: ", ") + "\n"
        var t = Table()
        t.add(["point", "hook", "on", "subject", "pass", "run", "state", "exit", "took", "then", "message"])
        for h in hooks {
            let o = HookOutcome(h, policy: policies?.policy(h.point, h.hook) ?? .stop)
            let last = h.state == .ok ? "" : h.output?.split(separator: "\n").last.map { " | \($0.prefix(120))" } ?? ""
            t.add([
                h.point.rawValue, h.hook, o.on, h.subject, h.pass > 1 ? "pass \(h.pass)" : "", "run \(h.runID)",
                h.state.rawValue, o.exitStatus.map(String.init) ?? "-",
                o.durationMs.map { Format.planDuration(ms: $0) } ?? "-",
                // Without the plan's policy the decision of a failure is not known here.
                policies == nil && h.state != .ok ? "?" : o.decision?.rawValue ?? "-",
                (h.message ?? "") + last,
            ])
        }
        return out + t.render()
    }
}
