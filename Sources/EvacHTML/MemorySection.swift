import EvacCore

/// Each target's configured guest memory before and after the plan, against its capacity and
/// the reserve kept free: one bar per target, scaled to its own capacity.
enum MemorySection {
    static func render(_ plan: PlanFile) -> String {
        var usage = plan.targetUsage
        var s = "<h2>Target memory before → after</h2>\n"
        if usage.isEmpty { return s + "<p class=\"note\">No target was read.</p>\n" }
        var omitted = 0
        if usage.count > PlanPage.maxMemoryRows {
            // The fullest ones are the ones to look at.
            usage.sort { fullness($0) > fullness($1) || (fullness($0) == fullness($1) && $0.host < $1.host) }
            omitted = usage.count - PlanPage.maxMemoryRows
            usage = Array(usage.prefix(PlanPage.maxMemoryRows))
        }
        s += "<div class=\"legend\"><span><i style=\"background:#5b6c8f\"></i>guests already there</span>"
        s +=
            "<span><i style=\"background:#0072B2\"></i>planned onto it</span><span><i style=\"background:#e9edf3\"></i>free</span>"
        s +=
            "<span><i style=\"background:repeating-linear-gradient(45deg,#c9ced8 0 2px,#fff 2px 5px)\"></i>reserve (kept free)</span>"
        s += "<span><i style=\"background:#c62828\"></i>into the reserve or beyond capacity</span></div>\n"
        let rowHeight = 26.0
        let labelWidth = 190.0
        let barWidth = 430.0
        let width = 1160.0
        let height = rowHeight * Double(usage.count) + 8
        s +=
            "<svg id=\"memory\" viewBox=\"0 0 \(HTML.num(width)) \(HTML.num(height))\" width=\"100%\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\">\n"
        s +=
            "<defs><pattern id=\"hatch\" width=\"5\" height=\"5\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
        s +=
            "<rect width=\"5\" height=\"5\" fill=\"#fff\"/><rect width=\"2\" height=\"5\" fill=\"#c9ced8\"/></pattern></defs>\n"
        for (i, u) in usage.enumerated() {
            let y = Double(i) * rowHeight + 4
            let cap = Double(max(1, u.memoryKiB))
            func w(_ kib: Double) -> Double { max(0, min(barWidth, kib / cap * barWidth)) }
            let before = Double(u.usedBeforeKiB)
            let after = Double(u.usedAfterKiB)
            let reserve = Double(min(u.reserveKiB, u.memoryKiB))
            let limit = cap - reserve
            s +=
                "<g class=\"target\" data-host=\"\(HTML.esc(u.host))\" data-before-kib=\"\(u.usedBeforeKiB)\" data-after-kib=\"\(u.usedAfterKiB)\" data-capacity-kib=\"\(u.memoryKiB)\" data-reserve-kib=\"\(u.reserveKiB)\">"
            s +=
                "<title>\(HTML.esc(u.host)): \(Format.kib(u.usedBeforeKiB)) → \(Format.kib(u.usedAfterKiB)) of \(Format.kib(u.memoryKiB)), reserve \(Format.kib(u.reserveKiB)), +\(u.incoming) guests</title>"
            s += "<text x=\"8\" y=\"\(HTML.num(y + 15))\" font-size=\"12\">\(HTML.esc(u.host))</text>"
            let x0 = labelWidth
            let bh = 16.0
            s += rect("mem-free", x0, y + 2, barWidth, bh)
            s += rect("mem-reserve", x0 + w(limit), y + 2, w(cap) - w(limit), bh)
            s += rect("mem-used", x0, y + 2, w(min(before, cap)), bh)
            if after > before { s += rect("mem-in", x0 + w(before), y + 2, w(min(after, cap)) - w(before), bh) }
            if after > limit {
                s += rect("mem-over", x0 + w(max(limit, before)), y + 2, w(min(after, cap)) - w(max(limit, before)), bh)
            }
            s +=
                "<line class=\"mem-cap\" x1=\"\(HTML.num(x0 + barWidth))\" y1=\"\(HTML.num(y))\" x2=\"\(HTML.num(x0 + barWidth))\" y2=\"\(HTML.num(y + bh + 4))\"/>"
            let headroom = u.headroomAfterKiB
            let text =
                "\(Format.kib(u.usedBeforeKiB)) → \(Format.kib(u.usedAfterKiB)) of \(Format.kib(u.memoryKiB))"
                + (u.reserveKiB > 0 ? ", reserve \(Format.kib(u.reserveKiB))" : "")
                + " · +\(u.incoming) · headroom \(Format.kib(signed: headroom))"
            s +=
                "<text x=\"\(HTML.num(x0 + barWidth + 10))\" y=\"\(HTML.num(y + 15))\" font-size=\"12\"\(headroom < 0 ? " fill=\"#c62828\"" : "")>\(HTML.esc(text))</text>"
            s += "</g>\n"
        }
        s += "</svg>\n"
        if omitted > 0 {
            s +=
                "<p class=\"note\">The \(usage.count) fullest targets after the plan are shown; \(omitted) more are emptier.</p>\n"
        }
        return s
    }

    static func fullness(_ u: TargetUsage) -> Double { Double(u.usedAfterKiB) / Double(max(1, u.memoryKiB)) }

    static func rect(_ cls: String, _ x: Double, _ y: Double, _ w: Double, _ h: Double) -> String {
        guard w > 0 else { return "" }
        return
            "<rect class=\"\(cls)\" x=\"\(HTML.num(x))\" y=\"\(HTML.num(y))\" width=\"\(HTML.num(w))\" height=\"\(HTML.num(h))\"/>"
    }
}
