import Foundation

/// Text for HTML: every string that comes from a plan, an inventory or a journal goes through
/// `esc` (guest names are chosen by whoever created the guest, not by evac).
enum HTML {
    static func esc(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for ch in s.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            // Control characters have no business in a page; show them as U+FFFD.
            case _ where ch.value < 0x20 && ch != "\n" && ch != "\t": out += "\u{FFFD}"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    /// A number for SVG attributes: at most two decimals, no exponent, no locale.
    /// Integer arithmetic, not String(format:): a 100k-migration chart writes ~400k numbers, and
    /// Foundation's formatter made them half of the page's rendering time.
    static func num(_ v: Double) -> String {
        guard v.isFinite, abs(v) < 1e15 else { return "0" }
        let hundredths = Int64((v * 100).rounded())
        let whole = hundredths / 100
        let frac = abs(hundredths % 100)
        let sign = hundredths < 0 && whole == 0 ? "-" : ""
        if frac == 0 { return sign + String(whole) }
        return sign + String(whole) + (frac < 10 ? ".0" : ".") + String(frac % 10 == 0 ? frac / 10 : frac)
    }

    /// The whole document: one file, inline CSS and SVG, nothing fetched.
    static func document(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="generator" content="evac">
        <title>\(esc(title))</title>
        <style>\(Style.css)</style>
        </head>
        <body>
        \(body)
        </body>
        </html>

        """
    }
}

/// Durations on axes and in tables.
enum Clock {
    /// 0s, 45s, 2m30s, 1h05m: short and unambiguous (the plan language's own units).
    static func text(ms: Double) -> String {
        if ms > 0 && ms < 999.5 { return "\(Int(ms.rounded()))ms" }
        let s = Int((ms / 1000).rounded())
        if s < 60 { return "\(s)s" }
        let h = s / 3600
        let m = s / 60 % 60
        let sec = s % 60
        if h > 0 { return m == 0 ? "\(h)h" : "\(h)h\(m < 10 ? "0" : "")\(m)m" }
        return sec == 0 ? "\(m)m" : "\(m)m\(sec < 10 ? "0" : "")\(sec)s"
    }

    /// A tick step giving at most `maxTicks` ticks over `span` milliseconds.
    static func tickStep(span: Double, maxTicks: Int = 10) -> Double {
        let steps: [Double] = [
            1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
        ]
        for s in steps where span / (s * 1000) <= Double(maxTicks) { return s * 1000 }
        return (span / Double(maxTicks) / 86_400_000).rounded(.up) * 86_400_000
    }
}
