import EvacCore

/// Journals the latest progress sample of each in-flight migration (`RunJournal.recordProgress`)
/// so that `evac status --follow` in another process draws the live display: the first sample
/// with figures of each attempt at once, then at most one every `intervalMs` of the job's own
/// clock per step.
/// An observer rather than part of the migration loop: the run's own path is unchanged, a
/// write never waits on a disk flush, and one that fails is dropped (a sample is a display
/// figure; the next durable commit finds a broken journal anyway).
final class ProgressJournaler: RunObserver, @unchecked Sendable {
    private let journal: any RunJournal
    private let intervalMs: UInt64

    private struct State {
        var kind: RunKind?
        var runID = 0
        /// Attempt of each step running now.
        var attempt: [Int: Int] = [:]
        /// Job clock of the last sample written per step (this attempt).
        var writtenAtMs: [Int: UInt64] = [:]
        /// Samples waiting for the writer, newest per step.
        var outbox: [Int: ProgressRecord] = [:]
        var writing = false
    }
    private let state = Locked(State())

    /// Journals into `journal`, one sample per step per `intervalMs` of the job's clock at most.
    init(journal: any RunJournal, intervalMs: UInt64 = 2000) {
        self.journal = journal
        self.intervalMs = intervalMs
    }

    func handle(_ event: RunEvent) {
        let start: Bool = state.withLock { s in
            switch event {
            case .runStarted(let r):
                s = State(kind: r.kind, runID: r.runID, writing: s.writing)
            case .step(let c) where c.kind == s.kind:
                if c.to == .running {
                    s.attempt[c.id] = c.attempt
                } else if c.to != nil {
                    s.attempt[c.id] = nil
                }
                s.writtenAtMs[c.id] = nil
                s.outbox[c.id] = nil
            case .progress(let p):
                guard let kind = s.kind, let attempt = s.attempt[p.id] else { return false }
                // libvirt's first samples, while the job sets up, have no figures: nothing to
                // show, and they must not hold the first real one back for an interval.
                let q = p.progress
                guard q.dataTotal > 0 || q.memoryTotal > 0 || q.diskTotal > 0 else { return false }
                let t = p.progress.elapsedMs
                if let last = s.writtenAtMs[p.id], t >= last, t - last < intervalMs { return false }
                s.writtenAtMs[p.id] = t
                s.outbox[p.id] = ProgressRecord(
                    kind: kind, id: p.id, runID: s.runID, attempt: attempt, at: Timestamp.now(), progress: p.progress)
            default:
                return false
            }
            guard !s.writing, !s.outbox.isEmpty else { return false }
            s.writing = true
            return true
        }
        if start { Task { await drain() } }
    }

    /// Writes the outbox until it is empty; one writer at a time, so samples land in order.
    private func drain() async {
        while true {
            let batch: [ProgressRecord] = state.withLock { s in
                let b = s.outbox.values.sorted { $0.id < $1.id }
                s.outbox = [:]
                if b.isEmpty { s.writing = false }
                return b
            }
            if batch.isEmpty { return }
            try? await journal.recordProgress(batch)
        }
    }
}
