import EvacCore
import Foundation

/// Left-aligned text columns (right-aligned where asked), for reports read in a terminal.
struct Table {
    var rows: [[String]] = []
    var rightAligned: Set<Int> = []

    /// Cells often hold names from plans, inventories or libvirt: control characters are
    /// escaped here, once for every table (`TerminalText`).
    mutating func add(_ row: [String]) { rows.append(row.map(TerminalText.escape)) }

    /// Written as bytes, not by String concatenation: on a 100,000-guest plan the text report's
    /// tables cost a third of what the rest of the report did (BENCHMARKS.md, "The real path").
    func render(indent: String = "  ") -> String {
        guard let width = rows.map(\.count).max() else { return "" }
        let counts = rows.map { $0.map(Self.width) }
        var widths = [Int](repeating: 0, count: width)
        for row in counts { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c) } }
        let right = widths.indices.map { rightAligned.contains($0) }
        var out: [UInt8] = []
        out.reserveCapacity(rows.count * (widths.reduce(indent.utf8.count) { $0 + $1 + 3 }))
        for (r, row) in rows.enumerated() {
            let start = out.count
            out.append(contentsOf: indent.utf8)
            for (i, c) in row.enumerated() {
                if i > 0 { out.append(contentsOf: [0x20, 0x20]) }
                let pad = widths[i] - counts[r][i]
                if right[i] {
                    out.append(contentsOf: repeatElement(0x20, count: pad))
                    out.append(contentsOf: c.utf8)
                } else {
                    out.append(contentsOf: c.utf8)
                    if i != row.count - 1 { out.append(contentsOf: repeatElement(0x20, count: pad)) }
                }
            }
            Self.trimTrailingSpace(&out, lineStart: start)
            out.append(0x0A)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Drops the trailing whitespace of the line that starts at `lineStart` and ends `out`: ASCII
    /// whitespace on the bytes (the usual case, empty last cells), anything else the Unicode way.
    static func trimTrailingSpace(_ out: inout [UInt8], lineStart: Int) {
        var cut = out.count
        while cut > lineStart, case let b = out[cut - 1], b == 0x20 || (0x09...0x0D).contains(b) { cut -= 1 }
        if cut == lineStart || out[cut - 1] < 0x80 {
            out.removeSubrange(cut...)
            return
        }
        let trimmed = trimmingTrailingSpace(String(decoding: out[lineStart..<cut], as: UTF8.self))
        out.removeSubrange(lineStart...)
        out.append(contentsOf: trimmed.utf8)
    }

    /// Characters in a cell: the byte count for ASCII (no grapheme breaking needed), else `count`.
    static func width(_ s: String) -> Int {
        s.utf8.allSatisfy { $0 < 0x80 } ? s.utf8.count : s.count
    }

    /// The line without trailing whitespace. A regular expression per row cost more than the
    /// rest of the report on a 100,000-guest plan.
    static func trimmingTrailingSpace(_ line: String) -> String {
        // ASCII whitespace, the usual case (empty last cells), is stripped on the bytes; anything
        // else at the end goes the Unicode way below.
        let u = line.utf8
        var cut = u.endIndex
        while cut > u.startIndex, case let b = u[u.index(before: cut)], b == 0x20 || (0x09...0x0D).contains(b) {
            cut = u.index(before: cut)
        }
        if cut == u.startIndex || u[u.index(before: cut)] < 0x80 {
            return cut == u.endIndex ? line : String(line[..<cut])
        }
        var end = line.endIndex
        while end > line.startIndex {
            let before = line.index(before: end)
            guard line[before].isWhitespace else { break }
            end = before
        }
        return end == line.endIndex ? line : String(line[..<end])
    }
}
