import EvacCore
import Foundation

/// Left-aligned text columns (right-aligned where asked), for reports read in a terminal.
struct Table {
    var rows: [[String]] = []
    var rightAligned: Set<Int> = []

    /// Cells often hold names from plans, inventories or libvirt: control characters are
    /// escaped here, once for every table (`TerminalText`).
    mutating func add(_ row: [String]) { rows.append(row.map(TerminalText.escape)) }

    func render(indent: String = "  ") -> String {
        guard let width = rows.map(\.count).max() else { return "" }
        var widths = [Int](repeating: 0, count: width)
        for row in rows { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
        return rows.map { row in
            let cells = row.enumerated().map { i, c -> String in
                let pad = String(repeating: " ", count: widths[i] - c.count)
                if i == row.count - 1 && !rightAligned.contains(i) { return c }
                return rightAligned.contains(i) ? pad + c : c + pad
            }
            return indent + cells.joined(separator: "  ")
        }.map { $0.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) }
            .joined(separator: "\n") + "\n"
    }
}
