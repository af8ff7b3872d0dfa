import ArgumentParser
import EvacCore
import EvacRun
import Foundation

extension StatusCommand {
    func validate() throws {
        try validateCoordinator()
        if follow && plan == nil {
            throw ValidationError("--follow needs the run to follow: a plan, plan file or journal")
        }
        if follow && output == .html {
            throw ValidationError("--follow shows a live display; --output html draws a run once (without --follow)")
        }
        if output == .html && guest != nil {
            throw ValidationError("--output html draws the whole run; leave out --guest")
        }
        if out != nil && output != .html { throw ValidationError("--out is for --output html") }
    }

    /// `--follow`: the newest run of the plan, live, from its journal; the exit code is the run's.
    func followRun(_ reference: String, stateDirectory dir: String) async throws {
        let journal = try await waitForJournal(reference, stateDirectory: dir)
        let follower: JournalFollower
        do { follower = try JournalFollower(path: journal) } catch {
            Console.error("error: \(error)\n")
            throw EvacExit.cannotStart
        }
        let observer: any RunObserver
        switch output {
        case .json: observer = JSONLinesObserver()
        case .plain: observer = PlainObserver()
        default: observer = TerminalObserver.forStandardOutput(forecast: follower.plan.map(RunForecast.init(plan:)))
        }
        if output != .json { Console.error("following \(journal)\n") }
        let end: JournalFollower.End
        do { end = try await follower.follow(observer) } catch {
            Console.error("error: reading \(journal): \(error)\n")
            throw EvacExit.cannotStart
        }
        switch end {
        case .finished(let status):
            let code = RunExit.code(status)
            if code != EvacExit.success { throw code }
        case .processGone(let why):
            Console.error("error: \(why)\n")
            throw EvacExit.interrupted
        case .abandoned:
            throw EvacExit.interrupted
        }
    }

    /// The journal of `reference`; for a plan whose apply is still placing guests (its run lock
    /// is held, its journal not written yet) it waits for the journal to appear.
    private func waitForJournal(_ reference: String, stateDirectory dir: String) async throws -> String {
        while true {
            do { return try PlanReference.journal(for: reference, stateDirectory: dir).journal } catch {
                if PlanReference.kind(of: reference) != .journal, let name = try? PlanRunLock.planName(of: reference),
                    JournalLock.liveHolder(
                        journalPath: JournalLocation.planStem(planName: name, stateDirectory: dir) + ".plan") != nil
                {
                    try await Task.sleep(for: .milliseconds(200))
                    continue
                }
                throw error
            }
        }
    }
}
