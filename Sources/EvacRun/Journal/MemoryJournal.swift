/// A journal that keeps the latest rows in memory and writes nothing durable: for the benchmark's
/// "journal off" figure and for tests that do not look at the file. Never for a real run.
public final class MemoryJournal: RunJournal, @unchecked Sendable {
    public let path = ":memory:"
    private struct State {
        var steps: [RunKind: [Int: StepRecord]] = [:]
        var runs: [Int: RunRecord] = [:]
        var commits = 0
        var hooks = HookJournalState()
    }
    private let state = Locked(State())
    public init() {}

    public var commits: Int { state.withLock { $0.commits } }

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

    public func steps(kind: RunKind) async throws -> [StepRecord] {
        state.withLock { s in (s.steps[kind] ?? [:]).values.sorted { $0.id < $1.id } }
    }

    public func runs() async throws -> [RunRecord] {
        state.withLock { s in s.runs.values.sorted { $0.id < $1.id } }
    }

    public func hookState() async throws -> HookJournalState { state.withLock { $0.hooks } }

    public func close() {}
}
