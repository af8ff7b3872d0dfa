/// Text from plans, inventories and libvirt made safe to print on a terminal.
///
/// A guest or plan name can hold any character: an escape sequence in one could retitle the
/// window, hide lines or fake a report; a newline could forge a log line. Every control
/// character (C0, DEL, C1) and the bidirectional overrides that reorder what is shown are
/// written as a visible escape (`\e`, `\n`, `\u{202E}`). JSON output needs none of this: its
/// encoder escapes controls itself.
public enum TerminalText {
    /// `s` with every control character and bidirectional override written as a visible escape.
    public static func escape(_ s: String) -> String {
        // Printable ASCII, the usual case, needs nothing: checked on the bytes, which is much
        // cheaper than decoding scalars (a 100,000-guest report escapes a million cells).
        if s.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return s }
        guard s.unicodeScalars.contains(where: needsEscape) else { return s }
        var out = ""
        for c in s.unicodeScalars {
            guard needsEscape(c) else {
                out.unicodeScalars.append(c)
                continue
            }
            switch c {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{1B}": out += "\\e"
            default: out += "\\u{\(String(c.value, radix: 16, uppercase: true))}"
            }
        }
        return out
    }

    /// `escape` that leaves newlines and tabs alone: for multi-line text evac composed itself
    /// around untrusted parts that were not escaped one by one.
    public static func escapeKeepingLines(_ s: String) -> String {
        s.split(separator: "\n", omittingEmptySubsequences: false)
            .map {
                $0.split(separator: "\t", omittingEmptySubsequences: false).map { escape(String($0)) }.joined(
                    separator: "\t")
            }
            .joined(separator: "\n")
    }

    static func needsEscape(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        return v < 0x20 || v == 0x7F || (0x80...0x9F).contains(v) || (0x202A...0x202E).contains(v)
            || (0x2066...0x2069).contains(v) || v == 0x200E || v == 0x200F || v == 0x061C
    }
}
