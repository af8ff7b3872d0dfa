extension MigrationOptions {
    /// The options that decide how a migration goes, in the plan's words (the text report's
    /// options column and the HTML page's groups).
    public var summary: String {
        let o = self
        var parts = [o.mode.rawValue]
        parts.append("bandwidth " + (o.bandwidthBytesPerSec.map { Format.bytes(Double($0)) + "/s" } ?? "unlimited"))
        parts.append("max-downtime \(Format.planDuration(ms: o.maxDowntimeMs))")
        switch o.timeout {
        case .fixed(let ms)?: parts.append("timeout \(Format.planDuration(ms: ms))")
        case .perGiB(let ms)?: parts.append("timeout \(Format.planDuration(ms: ms))/GiB")
        case nil: parts.append("no timeout")
        }
        if let ms = o.progressTimeoutMs { parts.append("progress-timeout \(Format.planDuration(ms: ms))") }
        if o.postCopy != .never { parts.append("post-copy \(o.postCopy.rawValue)") }
        if o.autoConverge != nil { parts.append("auto-converge") }
        if let l = o.ladder {
            var rungs: [String] = []
            if let cap = l.maxDowntimeCapMs { rungs.append("max-downtime up to \(Format.planDuration(ms: cap))") }
            if l.postCopy { rungs.append("post-copy") }
            rungs.append("fallback \(l.fallback.rawValue)")
            if l.fallback == .offline {
                rungs.append(
                    "shut down within \(Format.planDuration(ms: l.shutdownDeadlineMs))"
                        + (l.forcesOff ? " or forced off" : "") + ", moved offline, restarted")
            }
            parts.append("ladder: " + rungs.joined(separator: ", then "))
        } else {
            parts.append("no ladder")
        }
        return parts.joined(separator: ", ")
    }
}
