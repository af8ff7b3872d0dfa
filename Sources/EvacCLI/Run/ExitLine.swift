import ArgumentParser
import EvacRun

/// The last line of apply, resume and rollback: the exit code and what it means for this run,
/// so that "apply finished: all-done" above an exit code 1 (a guest nothing could take) does
/// not read as a contradiction.
enum ExitLine {
    static func text(code: ExitCode, result: RunResult, unplaceable: [String]) -> String {
        let c = result.counts
        switch code {
        case EvacExit.success:
            return "exit 0: every migration of the run is done"
        case EvacExit.partial:
            var why: [String] = []
            if c.failed > 0 { why.append("\(c.failed) failed") }
            if c.blocked > 0 { why.append("\(c.blocked) blocked") }
            if c.pending > 0 { why.append("\(c.pending) not started") }
            if !unplaceable.isEmpty {
                let names = unplaceable.prefix(5).joined(separator: ", ") + (unplaceable.count > 5 ? ", …" : "")
                why.append(
                    "\(unplaceable.count) guest\(unplaceable.count == 1 ? "" : "s") unplaceable (\(names)), left on \(unplaceable.count == 1 ? "its source" : "their sources"); see `evac plan`"
                )
            }
            let done = why.count == 1 && !unplaceable.isEmpty ? "every planned migration is done, but " : ""
            return "exit 1: partial: \(done)\(why.joined(separator: ", "))"
        case EvacExit.interrupted:
            return "exit 4: interrupted: \(c.pending + c.running) step(s) not finished; `evac resume` continues"
        case EvacExit.cannotStart:
            return "exit 3: the run could not start; nothing was changed by it"
        case EvacExit.journalFailed:
            return
                "exit 5: the journal could not be written; migrations in flight were aborted; `evac resume` reconciles"
        default:
            return "exit \(code.rawValue)"
        }
    }
}
