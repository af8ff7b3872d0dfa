import EvacCore
import EvacRun
import Foundation

/// The journals of one plan name in a state directory, and where each stands: the rule "one
/// plan, one run" is enforced here, by name, across journals (a re-placed plan has another
/// hash, hence another journal file, so a per-hash check alone would let a second run start).
///
/// At most one journal of a name is *live* (not `RunStanding.isOver`): every apply, resume and
/// rollback of the plan goes to it, so `rollback` returns every guest the plan's runs moved.
/// Journals written before this rule may leave several live ones: `rollback` then returns the
/// guests of each (newest first), and `apply`/`resume` refuse, naming them.
struct PlanRuns {
    struct Entry {
        var path: String
        var status: JournalStatus
        var standing: RunStanding
    }

    /// Open-named journals (closed ones are `….closed-<time>.journal.sqlite`), newest first.
    var entries: [Entry]
    var live: [Entry] { entries.filter { !$0.standing.isOver } }

    static func find(planName: String, stateDirectory dir: String) throws(CLIFailure) -> PlanRuns {
        var out: [Entry] = []
        for path in PlanReference.journals(named: planName, in: dir) {
            let status: JournalStatus
            do { status = try JournalStatus.read(path: path) } catch {
                throw .cannotStart(
                    "error: cannot read journal \(path) of plan \(planName): \(error)\n    help: one run per plan name is checked across its journals; move the unreadable one aside if it is not a run of this plan\n"
                )
            }
            out.append(
                Entry(
                    path: path, status: status,
                    standing: RunStanding.of(runs: status.runs, apply: status.apply, rollback: status.rollback)))
        }
        return PlanRuns(entries: out)
    }

    /// "4 done, 1 failed, 2 pending of 7; last run: apply 2027-01-15T08:00:00Z (interrupted)"
    static func describe(_ e: Entry) -> String {
        let c = e.status.applyCounts
        var parts = ["\(c.done) done"]
        for (n, what) in [
            (c.failed, "failed"), (c.blocked, "blocked"), (c.pending, "pending"), (c.running, "running"),
            (c.rolledBack, "rolled back"),
        ] where n > 0 { parts.append("\(n) \(what)") }
        var text = parts.joined(separator: ", ") + " of \(c.total)"
        if !e.status.rollback.isEmpty {
            let r = e.status.rollbackCounts
            text += "; rollback: \(r.done) of \(r.total) returned"
        }
        if let last = e.status.runs.last {
            text += "; last run: \(last.kind.rawValue) \(last.started) (\(last.exitStatus ?? "did not finish"))"
        }
        return text
    }

    /// The refusal when a plan name has several live journals (written before one run per plan).
    func severalLive(_ planName: String, _ command: String) -> CLIFailure {
        let list = live.map { "  \($0.path): \(Self.describe($0))\n" }.joined()
        return .cannotStart(
            "error: plan \(planName) has \(live.count) runs that are not over (one per plan name is the rule; these predate it):\n\(list)"
                + "    help: `evac rollback` of the plan returns the guests of all of them; `evac \(command) JOURNAL` works on one\n"
        )
    }
}

/// A path as an operator can paste it into a shell.
enum ShellWord {
    static func quote(_ s: String) -> String {
        let safe = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "/._-+=:,@%"))
        if !s.isEmpty && s.unicodeScalars.allSatisfy(safe.contains) { return s }
        return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
