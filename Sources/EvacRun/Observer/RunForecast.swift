import EvacCore

/// The overall ETA of a run: the plan's duration model for the migrations still queued, the
/// live figures for those in flight, walked through the executor's own scheduler (`Timeline`,
/// so the queue obeys the limits and `after` rules the run obeys). The model is corrected by
/// what the run shows: each migration that ended (or whose end the live rate foretells) says
/// how long it took against its prediction, and the queued ones are scaled by the median of
/// those ratios. A run whose last migrations are queued behind a slow one therefore reads the
/// time they will take, not "1s".
public struct RunForecast: Sendable, Hashable {
    /// The plan's migrations, in its order.
    public let graph: MigrationGraph
    /// The model's duration of each migration, by id.
    public let predictedMs: [Int: Double]

    /// The forecast of `plan`'s migrations: their `predictedDurationMs`, the model's for a plan
    /// file written before nodes carried one.
    public init(plan: PlanFile) {
        let timeline = Timeline.estimate(plan)
        self.init(
            graph: plan.graph,
            predictedMs: Dictionary(timeline.entries.map { ($0.id, $0.durationMs) }, uniquingKeysWith: { a, _ in a }))
    }

    /// A forecast of `graph` with the given durations (ids not in `predictedMs` count as 0).
    public init(graph: MigrationGraph, predictedMs: [Int: Double]) {
        self.graph = graph
        self.predictedMs = predictedMs
    }

    /// The guest's memory in bytes, as the plan knows it (0 for an unknown id).
    public func memoryBytes(of id: Int) -> UInt64 {
        guard let n = graph.nodes.first(where: { $0.id == id }) else { return 0 }
        return n.memoryKiB.multipliedReportingOverflow(by: 1024).partialValue
    }

    /// A migration in flight, as the display knows it.
    public struct InFlight: Sendable, Hashable {
        /// How long it has been running, in milliseconds.
        public var elapsedMs: Double
        /// What the live rate says is left (nil: no rate yet, or not converging).
        public var remainingMs: Double?
        /// The guest dirties memory as fast as the copy goes: when it ends is not known.
        public var stalled: Bool
        /// A migration `elapsedMs` in, with `remainingMs` to go when that is known.
        public init(elapsedMs: Double, remainingMs: Double?, stalled: Bool = false) {
            self.elapsedMs = elapsedMs
            self.remainingMs = remainingMs
            self.stalled = stalled
        }
    }

    /// How long the run has left, and whether that is only a lower bound: a migration in
    /// flight does not converge, or has outrun its prediction with no rate to go by.
    public struct Estimate: Sendable, Hashable {
        /// Milliseconds left.
        public var ms: Double
        /// Whether `ms` is only a lower bound.
        public var atLeast: Bool
    }

    /// The correction of the model: the median of measured (or live-foretold) over predicted
    /// durations, within [0.05, 20] so one odd migration cannot make the ETA absurd; 1 with
    /// nothing to go on.
    public func correction(doneMs: [Int: Double], inFlight: [Int: InFlight]) -> Double {
        var ratios: [Double] = []
        for (id, d) in doneMs {
            if let p = predictedMs[id], p > 0 { ratios.append(d / p) }
        }
        for (id, f) in inFlight {
            if let p = predictedMs[id], p > 0, let left = f.remainingMs { ratios.append((f.elapsedMs + left) / p) }
        }
        guard !ratios.isEmpty else { return 1 }
        ratios.sort()
        let mid = ratios.count / 2
        let median = ratios.count % 2 == 1 ? ratios[mid] : (ratios[mid - 1] + ratios[mid]) / 2
        return min(20, max(0.05, median))
    }

    /// Milliseconds until the run's last migration ends: `settled` ids take no more time, those
    /// `inFlight` what the live rate says is left (else their corrected prediction less what
    /// they ran), every other one of `kind`'s migrations its corrected prediction, in the order
    /// and under the limits the executor uses.
    public func remainingMs(
        kind: RunKind, settled: Set<Int>, inFlight: [Int: InFlight], doneMs: [Int: Double]
    ) -> Double {
        estimate(kind: kind, settled: settled, inFlight: inFlight, doneMs: doneMs).ms
    }

    /// `remainingMs`, saying whether it is a lower bound.
    public func estimate(
        kind: RunKind, settled: Set<Int>, inFlight: [Int: InFlight], doneMs: [Int: Double]
    ) -> Estimate {
        let factor = correction(doneMs: doneMs, inFlight: inFlight)
        let left = graph.nodes.filter { !settled.contains($0.id) }
        let ids = Set(left.map(\.id))
        var ordered =
            kind == .rollback
            ? Self.rollback(left, ids: ids)
            : left.map { n in
                var c = n
                c.after = n.after.filter { ids.contains($0) }
                return c
            }
        // In flight first: they hold their slots now, so the walk starts them at once.
        ordered = ordered.filter { inFlight[$0.id] != nil } + ordered.filter { inFlight[$0.id] == nil }
        var atLeast = false
        let durations = ordered.map { n -> Double in
            let predicted = (predictedMs[n.id] ?? 0) * factor
            guard let f = inFlight[n.id] else { return predicted }
            if let left = f.remainingMs { return left }
            if f.stalled || f.elapsedMs >= predicted { atLeast = true }
            return max(0, predicted - f.elapsedMs)
        }
        let ms = Timeline.schedule(MigrationGraph(nodes: ordered, limits: graph.limits), durationsMs: durations).totalMs
        return Estimate(ms: ms, atLeast: atLeast)
    }

    /// The rollback's graph of `nodes`: each guest goes back, edges and order reversed (as
    /// the executor's rollback steps are).
    static func rollback(_ nodes: [MigrationGraph.Node], ids: Set<Int>) -> [MigrationGraph.Node] {
        var waitsFor: [Int: [Int]] = [:]
        for n in nodes {
            for a in n.after where ids.contains(a) { waitsFor[a, default: []].append(n.id) }
        }
        return nodes.reversed().map { n in
            var c = n
            c.placement.source = n.target
            c.placement.target = n.source
            c.after = (waitsFor[n.id] ?? []).sorted()
            return c
        }
    }
}
