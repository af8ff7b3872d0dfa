/// The page's stylesheet: system fonts only (nothing is fetched), readable when printed or
/// pasted into a ticket as a screenshot.
enum Style {
    /// Wave colours (Okabe–Ito, distinguishable with the common colour-vision deficiencies).
    static let waves = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#7F7F7F", "#B8860B"]

    static let css =
        baseCSS + waves.enumerated().map { "svg .w\($0.offset + 1) { fill: \($0.element); }" }.joined(separator: "\n")

    static let baseCSS = """
        :root { --ink: #1d2330; --muted: #5b6475; --line: #d9dee7; --panel: #f6f8fb; --bad: #c62828; --ok: #2e7d32;
                --warn: #ef6c00; --run: #1565c0; }
        * { box-sizing: border-box; }
        body { margin: 0; padding: 24px 32px 40px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", "Liberation Sans", sans-serif;
               color: var(--ink); background: #fff; }
        h1 { font-size: 22px; margin: 0 0 4px; }
        h2 { font-size: 17px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
        .sub { color: var(--muted); margin: 0 0 16px; }
        code, .mono { font-family: "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
        .cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0 4px; }
        .card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; min-width: 150px; }
        .card .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
        .card .v { font-size: 20px; font-weight: 600; }
        .card.bad .v { color: var(--bad); } .card.ok .v { color: var(--ok); } .card.warn .v { color: var(--warn); }
        .note { color: var(--muted); font-size: 13px; margin: 6px 0; }
        .legend { display: flex; flex-wrap: wrap; gap: 14px; font-size: 12.5px; color: var(--muted); margin: 6px 0 8px; }
        .legend span i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 5px; vertical-align: -2px; }
        svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; fill: var(--ink); }
        svg .axis text { fill: var(--muted); font-size: 11px; }
        svg .grid { stroke: #e7ebf1; stroke-width: 1; }
        svg .lane-bg { fill: #fafbfd; } svg .lane-bg.odd { fill: #f1f4f9; }
        svg .lane-label { font-size: 12px; }
        svg .bar { stroke: rgba(0,0,0,.25); stroke-width: .5; }
        svg .bar.late { stroke: var(--bad); stroke-width: 2; }
        svg .dense .bar { stroke: none; } svg .dense .bar.late { stroke: var(--bad); stroke-width: 1; }
        svg .bar-label { fill: #fff; font-size: 11px; font-weight: 600; pointer-events: none; paint-order: stroke; stroke: rgba(0,0,0,.28); stroke-width: 2px; }
        td.nw { white-space: nowrap; }
        svg .estimate { fill: none; stroke: #8a94a6; stroke-width: 1; stroke-dasharray: 3 2; }
        svg .est-fill { fill: #dfe5ee; }
        svg .st-done { fill: var(--ok); } svg .st-failed { fill: var(--bad); } svg .st-running { fill: var(--run); }
        svg .st-blocked { fill: var(--warn); } svg .st-pending { fill: #b0b7c3; } svg .st-rolled-back { fill: #6a1b9a; }
        svg .st-skipped { fill: #b0b7c3; }
        svg .window { stroke: var(--bad); stroke-width: 2; stroke-dasharray: 6 4; }
        svg .window-label { fill: var(--bad); font-size: 12px; font-weight: 600; }
        svg .run-mark { stroke: #6a7388; stroke-width: 1; stroke-dasharray: 2 3; }
        svg .run-label { fill: #6a7388; font-size: 11px; }
        svg .mem-used { fill: #5b6c8f; } svg .mem-in { fill: #0072B2; } svg .mem-free { fill: #e9edf3; }
        svg .mem-reserve { fill: url(#hatch); } svg .mem-over { fill: var(--bad); }
        svg .mem-cap { stroke: var(--ink); stroke-width: 1.5; }
        table { border-collapse: collapse; width: 100%; font-size: 13px; }
        th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { background: var(--panel); font-weight: 600; }
        td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
        .state { font-weight: 600; } .state.done { color: var(--ok); } .state.failed { color: var(--bad); }
        .state.blocked { color: var(--warn); } .state.running { color: var(--run); }
        ul.reasons { margin: 2px 0; padding-left: 18px; } ul.reasons li { margin: 1px 0; }
        footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
        @media print { body { padding: 0; } h2 { break-after: avoid; } svg { break-inside: avoid; } }

        """
}
