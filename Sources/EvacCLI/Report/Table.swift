import EvacCore
/// Left-aligned text columns (right-aligned where asked), for reports read in a terminal.
struct Table {
    var rows: [[String]] = []
    var rightAligned: Set<Int> = []

    /// Cells often hold names from plans, inventories or libvirt: control characters are
    /// escaped here, once for every table (`TerminalText`).
    mutating func add(_ row: [String]) { rows.append(row.map(TerminalText.escape)) }

    func render(indent: String = "  ") -> String {
        guard let width = rows.map(\.count).max() else { return "" }
        let counts = rows.map { $0.map(Self.width) }
        var widths = [Int](repeating: 0, count: width)
        for row in counts { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c) } }
        var out = ""
        out.reserveCapacity(rows.count * (widths.reduce(indent.utf8.count) { $0 + $1 + 2 }))
        for (r, row) in rows.enumerated() {
            var line = indent
            for (i, c) in row.enumerated() {
                if i > 0 { line += "  " }
                let pad = widths[i] - counts[r][i]
                let last = i == row.count - 1
                if rightAligned.contains(i) {
                    line += String(repeating: " ", count: pad); line += c
                } else {
                    line += c
                    if !last { line += String(repeating: " ", count: pad) }
                }
            }
            out += Self.trimmingTrailingSpace(line)
            out += "\n"
        }
        return out
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

import Foundation
