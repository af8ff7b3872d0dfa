import EvacCore
import Foundation

/// Following a rolling cycle (`evac roll`): its journal holds the batches' stages and the
/// maintenance hooks; each batch's drain (and return) runs in a journal of its own, which the
/// follower follows in turn, so the operator sees the migrations of the batch at hand live.
extension JournalFollower {
    /// Shows the batches whose stage changed; when one is draining or returning, follows its
    /// drain journal's run to its end. Returns whether it followed one.
    func followCycle(
        _ cycle: [CycleRecord], shown: inout Shown, _ observer: any RunObserver, interval: Duration
    ) async throws -> Bool {
        for c in cycle where shown.stages[c.batch] != c.stage {
            shown.stages[c.batch] = c.stage
            observer.handle(.cycle(c))
        }
        guard
            let active = cycle.first(where: { $0.stage == .draining || $0.stage == .returning }),
            let phase = active.phaseJournal, FileManager.default.fileExists(atPath: phase),
            let nested = try? JournalFollower(path: phase)
        else { return false }
        let after = shown.phaseRuns[phase] ?? 0
        // Stop waiting for a drain's run once the cycle moved on without one.
        let me = self
        let end = try await nested.follow(
            PhaseObserver(inner: observer), interval: interval, afterRun: after,
            abandon: { me.stage(of: active.batch) != active.stage })
        shown.phaseRuns[phase] = nested.followedRun ?? after
        if end == .abandoned { return false }
        return true
    }

    /// The batch's stage in the cycle's journal now.
    func stage(of batch: Int) -> CycleRecord.Stage? {
        (try? readCycleNow())?.first { $0.batch == batch }?.stage
    }
}

/// A drain's run inside a rolling cycle: its end is a line of the cycle, not the end of what
/// the operator follows (a terminal display would stop drawing after a run's summary).
struct PhaseObserver: RunObserver {
    let inner: any RunObserver
    func handle(_ event: RunEvent) {
        guard case .runFinished(let s) = event else { return inner.handle(event) }
        inner.handle(.notice(PlainObserver.text(.runFinished(s)) ?? "\(s.kind.rawValue) finished"))
    }
}
