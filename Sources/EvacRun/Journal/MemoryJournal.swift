/// A journal that keeps the latest rows in memory and writes nothing durable: for the benchmark's
/// "journal off" figure and for tests that do not look at the file. Never for a real run.
public final class MemoryJournal: RunJournal, @unchecked Sendable {
    /// Said in messages instead of a file path: there is no file.
    public let path = ":memory:"
    private struct State {
        var steps: [RunKind: [Int: StepRecord]] = [:]
        var runs: [Int: RunRecord] = [:]
        var commits = 0
        var hooks = HookJournalState()
        var progress: [String: ProgressRecord] = [:]
    }
    private let state = Locked(State())
    /// An empty journal.
    public init() {}

    /// How many batches were committed (the benchmark's count of durability points).
    public var commits: Int { state.withLock { $0.commits } }

    /// Applies the batch at once; nothing is durable.
    public func commit(_ b: JournalBatch) async throws {
        state.withLock { s in
            s.commits += 1
            if let r = b.beginRun { s.runs[r.id] = r }
            for st in b.insertSteps { s.steps[st.kind, default: [:]][st.id] = st }
            for t in b.transitions { s.steps[t.step.kind, default: [:]][t.step.id] = t.step }
            for h in b.hooks { s.hooks.records[h.key] = h }
            for p in b.passes { s.hooks.passes[p.scope] = p }
            if let f = b.finishRun {
                s.runs[b.runID]?.finished = f.finished
                s.runs[b.runID]?.exitStatus = f.exitStatus
            }
        }
    }

    /// The latest row of each step of `kind`, by id.
    public func steps(kind: RunKind) async throws -> [StepRecord] {
        state.withLock { s in (s.steps[kind] ?? [:]).values.sorted { $0.id < $1.id } }
    }

    /// Every run, by id.
    public func runs() async throws -> [RunRecord] {
        state.withLock { s in s.runs.values.sorted { $0.id < $1.id } }
    }

    /// Every hook row and pass committed so far.
    public func hookState() async throws -> HookJournalState { state.withLock { $0.hooks } }

    /// Keeps the latest sample of each step, as the durable journals do.
    public func recordProgress(_ samples: [ProgressRecord]) async throws {
        state.withLock { s in for p in samples { s.progress["\(p.kind.rawValue)#\(p.id)"] = p } }
    }

    /// The latest sample of each step, by kind and id.
    public func progress() async throws -> [ProgressRecord] {
        state.withLock { s in s.progress.values.sorted { ($0.kind.rawValue, $0.id) < ($1.kind.rawValue, $1.id) } }
    }

    /// Nothing to release.
    public func close() {}
}
