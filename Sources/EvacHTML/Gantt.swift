/// A Gantt chart as data, then as SVG: lanes (one per target, or per parallelism slot), bars in
/// them, an optional window end and labelled marks (run starts). Above `detailLimit` bars the
/// bars of a lane are drawn as one path per colour, without per-bar tooltips, so that a
/// 100k-migration plan stays a page a browser opens in seconds.
struct Gantt {
    struct Lane {
        var label: String
        var detail: String
        /// Rows of bars in the lane: concurrent migrations to one target get one each.
        var tracks = 1
    }
    struct Bar {
        var id: Int
        var lane: Int
        var track = 0
        /// 0: the only row, or the estimate row of a run chart; 1: the actual row.
        var row: Int = 0
        var startMs: Double
        var endMs: Double
        /// A CSS class that gives the fill (`w3` for wave 3, `st-done`, `est-fill`, …).
        var fillClass: String
        var title: String
        var late = false
        var guest: String
    }
    struct Mark {
        var atMs: Double
        var label: String
    }

    var id: String
    var lanes: [Lane]
    var bars: [Bar]
    var rows = 1
    var windowEndMs: Double?
    var marks: [Mark] = []
    static let detailLimit = 3000

    var spanMs: Double {
        max(bars.map(\.endMs).max() ?? 0, windowEndMs.map { $0 * 1.04 } ?? 0, marks.map(\.atMs).max() ?? 0, 1000)
    }

    var isDetailed: Bool { bars.count <= Self.detailLimit }

    func svg(width: Double = 1160) -> String {
        let labelWidth = 190.0
        let right = 24.0
        let top = windowEndMs == nil ? 30.0 : 46.0
        let plotWidth = width - labelWidth - right
        let totalTracks = Double(max(1, lanes.reduce(0) { $0 + max(1, $1.tracks) }))
        let trackHeight = rows == 2 ? max(8, min(30, 1200 / totalTracks)) : max(4, min(22, 900 / totalTracks))
        var laneTop: [Double] = []
        var y0 = top
        for l in lanes {
            laneTop.append(y0)
            y0 += trackHeight * Double(max(1, l.tracks))
        }
        let height = y0 + 12
        let span = spanMs
        func x(_ ms: Double) -> Double { labelWidth + ms / span * plotWidth }
        var s =
            "<svg id=\"\(id)\" class=\"gantt\" viewBox=\"0 0 \(HTML.num(width)) \(HTML.num(height))\" width=\"100%\" role=\"img\" "
        s +=
            "data-lanes=\"\(lanes.count)\" data-bars=\"\(bars.count)\" data-mode=\"\(isDetailed ? "detail" : "dense")\" xmlns=\"http://www.w3.org/2000/svg\">\n"
        // Lane backgrounds and labels.
        let showLabels = trackHeight >= 10
        for (i, lane) in lanes.enumerated() {
            let y = laneTop[i]
            let laneHeight = trackHeight * Double(max(1, lane.tracks))
            s +=
                "<g class=\"lane\" data-lane=\"\(HTML.esc(lane.label))\"><rect class=\"lane-bg\(i % 2 == 1 ? " odd" : "")\" x=\"0\" y=\"\(HTML.num(y))\" width=\"\(HTML.num(width))\" height=\"\(HTML.num(laneHeight))\"/>"
            if showLabels {
                s +=
                    "<text class=\"lane-label\" x=\"8\" y=\"\(HTML.num(y + min(laneHeight, 22) / 2 + 4))\">\(HTML.esc(lane.label))"
                if !lane.detail.isEmpty {
                    s += " <tspan fill=\"#5b6475\" font-size=\"11\">\(HTML.esc(lane.detail))</tspan>"
                }
                s += "</text>"
            }
            s += "</g>\n"
        }
        // Time axis with grid lines.
        let step = Clock.tickStep(span: span)
        s += "<g class=\"axis\">"
        var t = 0.0
        while t <= span + 0.5 {
            s +=
                "<line class=\"grid\" x1=\"\(HTML.num(x(t)))\" y1=\"\(HTML.num(top - 4))\" x2=\"\(HTML.num(x(t)))\" y2=\"\(HTML.num(height - 12))\"/>"
            s +=
                "<text x=\"\(HTML.num(x(t)))\" y=\"\(HTML.num(top - 10))\" text-anchor=\"middle\">\(Clock.text(ms: t))</text>"
            t += step
        }
        s += "</g>\n"
        s +=
            isDetailed
            ? detailedBars(x: x, laneTop: laneTop, trackHeight: trackHeight)
            : denseBars(x: x, laneTop: laneTop, trackHeight: trackHeight)
        for m in marks {
            s +=
                "<line class=\"run-mark\" x1=\"\(HTML.num(x(m.atMs)))\" y1=\"\(HTML.num(top - 4))\" x2=\"\(HTML.num(x(m.atMs)))\" y2=\"\(HTML.num(height - 12))\"/>"
            s +=
                "<text class=\"run-label\" x=\"\(HTML.num(x(m.atMs) + 3))\" y=\"\(HTML.num(height - 2))\">\(HTML.esc(m.label))</text>\n"
        }
        if let w = windowEndMs {
            s +=
                "<line id=\"\(id)-window-end\" class=\"window\" x1=\"\(HTML.num(x(w)))\" y1=\"4\" x2=\"\(HTML.num(x(w)))\" y2=\"\(HTML.num(height - 10))\"/>"
            let anchor = x(w) > width - 160 ? "end" : "start"
            s +=
                "<text class=\"window-label\" x=\"\(HTML.num(x(w) + (anchor == "end" ? -4 : 4)))\" y=\"14\" text-anchor=\"\(anchor)\">window ends \(Clock.text(ms: w))</text>\n"
        }
        return s + "</svg>\n"
    }

    private func rowBox(_ b: Bar, laneTop: [Double], trackHeight laneHeight: Double) -> (y: Double, h: Double) {
        let y0 = (laneTop.indices.contains(b.lane) ? laneTop[b.lane] : 0) + Double(b.track) * laneHeight
        if rows == 1 { return (y0 + laneHeight * 0.18, max(2, laneHeight * 0.64)) }
        // Estimate: a thin band at the top; actual: the thicker band below it.
        return b.row == 0
            ? (y0 + laneHeight * 0.12, max(1.5, laneHeight * 0.3)) : (y0 + laneHeight * 0.46, max(2, laneHeight * 0.44))
    }

    private func detailedBars(x: (Double) -> Double, laneTop: [Double], trackHeight: Double) -> String {
        var s = "<g class=\"bars\">\n"
        for b in bars {
            let (y, h) = rowBox(b, laneTop: laneTop, trackHeight: trackHeight)
            let w = max(1.5, x(b.endMs) - x(b.startMs))
            s +=
                "<rect class=\"bar \(b.fillClass)\(b.late ? " late" : "")\" data-id=\"\(b.id)\" data-guest=\"\(HTML.esc(b.guest))\" data-row=\"\(b.row == 0 && rows == 2 ? "estimate" : rows == 2 ? "actual" : "plan")\" "
            s +=
                "x=\"\(HTML.num(x(b.startMs)))\" y=\"\(HTML.num(y))\" width=\"\(HTML.num(w))\" height=\"\(HTML.num(h))\" rx=\"\(h > 6 ? 2 : 0)\">"
            s += "<title>\(HTML.esc(b.title))</title></rect>\n"
            // The guest's name inside its bar when it fits (about 6.5 px a character at 11 px).
            if h >= 9, rows == 1 || b.row == 1, w > Double(b.guest.count) * 6.5 + 8 {
                s +=
                    "<text class=\"bar-label\" x=\"\(HTML.num(x(b.startMs) + 4))\" y=\"\(HTML.num(y + h / 2 + 4))\">\(HTML.esc(b.guest))</text>\n"
            }
        }
        return s + "</g>\n"
    }

    /// One `<path>` per lane, row and fill: every bar a rectangle sub-path.
    private func denseBars(x: (Double) -> Double, laneTop: [Double], trackHeight: Double) -> String {
        struct Key: Hashable { var lane: Int, track: Int, row: Int, fill: String, late: Bool }
        var paths: [Key: String] = [:]
        var order: [Key] = []
        for b in bars {
            let (y, h) = rowBox(b, laneTop: laneTop, trackHeight: trackHeight)
            let k = Key(lane: b.lane, track: b.track, row: b.row, fill: b.fillClass, late: b.late)
            if paths[k] == nil {
                order.append(k)
                paths[k] = ""
            }
            let w = max(0.6, x(b.endMs) - x(b.startMs))
            paths[k]! += "M\(HTML.num(x(b.startMs))) \(HTML.num(y))h\(HTML.num(w))v\(HTML.num(h))h-\(HTML.num(w))z"
        }
        var s = "<g class=\"bars dense\">\n"
        for k in order {
            s += "<path class=\"bar \(k.fill)\(k.late ? " late" : "")\" d=\"\(paths[k]!)\"/>\n"
        }
        return s + "</g>\n"
    }
}

/// Which slot (of `limit` in flight) each estimated migration runs in, and its wave: the k-th
/// migration a slot runs is in wave k. Entries are taken by start time, the lowest free slot first.
enum Slots {
    static func assign(_ entries: [(id: Int, startMs: Double, endMs: Double)]) -> [Int: (slot: Int, wave: Int)] {
        var ends: [Double] = []
        var runs: [Int] = []
        var out: [Int: (slot: Int, wave: Int)] = [:]
        for e in entries.sorted(by: { ($0.startMs, $0.id) < ($1.startMs, $1.id) }) {
            let eps = 0.001
            if let free = ends.firstIndex(where: { $0 <= e.startMs + eps }) {
                ends[free] = e.endMs
                runs[free] += 1
                out[e.id] = (free, runs[free])
            } else {
                ends.append(e.endMs)
                runs.append(1)
                out[e.id] = (ends.count - 1, 1)
            }
        }
        return out
    }
}

extension Gantt {
    /// Gives every bar a track within its lane (the lowest one free at its start) and every
    /// lane as many tracks as it needs.
    mutating func stackTracks() {
        var ends: [Int: [Double]] = [:]
        for i in bars.indices.sorted(by: { (bars[$0].startMs, bars[$0].id) < (bars[$1].startMs, bars[$1].id) }) {
            let b = bars[i]
            var e = ends[b.lane, default: []]
            if let free = e.firstIndex(where: { $0 <= b.startMs + 0.001 }) {
                e[free] = b.endMs
                bars[i].track = free
            } else {
                e.append(b.endMs)
                bars[i].track = e.count - 1
            }
            ends[b.lane] = e
        }
        for l in lanes.indices { lanes[l].tracks = max(1, ends[l]?.count ?? 1) }
    }
}
