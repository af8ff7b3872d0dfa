extension PlanReader {
    static let ladderKeys = [
        "stall-passes", "max-downtime", "downtime-steps", "post-copy", "fallback", "allow-restart", "shutdown-timeout",
        "force-off",
    ]

    /// `migration.ladder: { stall-passes, max-downtime, downtime-steps, post-copy, fallback,
    /// allow-restart, shutdown-timeout, force-off }`
    /// over `base` (a group's ladder over the plan's, key by key), or `false`: no ladder.
    static func readLadder(_ node: Node, base: ConvergenceLadder? = nil, _ r: inout NodeReader) -> ConvergenceLadder? {
        if let s = node.scalar, !s.quoted, ["false", "False", "FALSE"].contains(s.value) { return nil }
        guard let m = r.mapping(node, context: "migration.ladder", known: ladderKeys) else { return base }
        var l = base ?? ConvergenceLadder()
        let passes = ConvergenceLadder.Bounds.stallPasses
        if let v = m["stall-passes"]?.value,
            let n = r.int(v, context: "migration.ladder.stall-passes", min: passes.lowerBound, max: passes.upperBound)
        {
            l.stallPasses = n
        }
        if let v = m["max-downtime"]?.value,
            let ms = r.duration(
                v, context: "migration.ladder.max-downtime", MigrationOptions.Bounds.maxDowntimeMs,
                why: "the cap of the downtime rungs; QEMU accepts at most 2000s")
        {
            l.maxDowntimeCapMs = ms
        }
        let steps = ConvergenceLadder.Bounds.downtimeSteps
        if let v = m["downtime-steps"]?.value,
            let n = r.int(v, context: "migration.ladder.downtime-steps", min: steps.lowerBound, max: steps.upperBound)
        {
            l.downtimeSteps = n
        }
        if let v = m["post-copy"]?.value, let x = r.bool(v, context: "migration.ladder.post-copy") { l.postCopy = x }
        if let v = m["fallback"]?.value,
            let x = r.choice(v, ConvergenceLadder.Fallback.self, context: "migration.ladder.fallback")
        {
            l.fallback = x
        }
        if let v = m["allow-restart"]?.value, let x = r.bool(v, context: "migration.ladder.allow-restart") {
            l.allowRestart = x ? true : nil // the default is absent: a plan keeps its bytes and hash
        }
        if let v = m["shutdown-timeout"]?.value,
            let ms = r.duration(
                v, context: "migration.ladder.shutdown-timeout", ConvergenceLadder.Bounds.shutdownTimeoutMs,
                why: "how long the offline fallback waits for the guest to shut down")
        {
            l.shutdownTimeoutMs = ms == ConvergenceLadder.defaultShutdownTimeoutMs ? nil : ms
        }
        if let v = m["force-off"]?.value, let x = r.bool(v, context: "migration.ladder.force-off") {
            l.forceOff = x ? true : nil
        }
        return l
    }

    /// The pair a conflict's key names under `migration:` (`ladder.post-copy` is `post-copy`
    /// inside `ladder:`), nil when the operator did not write it.
    static func pair(_ key: String, in m: [String: Node.Pair]) -> Node.Pair? {
        let parts = key.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, let outer = m[parts[0]] else { return m[key] }
        guard case .mapping(let pairs, _) = outer.value else { return outer }
        return pairs.first { $0.key.scalar?.value == parts[1] } ?? outer
    }
}
