extension Timeline {
    /// What the executor is predicted to start of a saved plan under `window` (`windowed`):
    /// each node's duration is the one the executor judges it by, the plan file's
    /// `predictedDurationMs`, else `estimate`'s (plan files written before nodes carried one).
    /// One function for the text report and the HTML page, so the two cannot disagree.
    public static func windowed(
        _ plan: PlanFile, estimate: Timeline, window: MaintenanceWindow, closesMs: Double
    ) -> Windowed {
        let fromEstimate = Dictionary(
            estimate.entries.map { ($0.id, $0.durationMs) }, uniquingKeysWith: { first, _ in first })
        let durations = plan.graph.nodes.map { $0.predictedDurationMs ?? fromEstimate[$0.id] ?? 0 }
        return windowed(plan.graph, durationsMs: durations, window: window, closesMs: closesMs)
    }
}
