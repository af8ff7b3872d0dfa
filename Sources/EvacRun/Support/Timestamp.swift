import Foundation

/// ISO 8601 UTC timestamps with milliseconds, formatted by hand: the journal writes several per
/// migration and Foundation's formatters cost microseconds each on Linux.
package enum Timestamp {
    package static func now() -> String { format(Date()) }

    static func format(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var secs = time_t(ms / 1000)
        var tm = tm()
        gmtime_r(&secs, &tm)
        func pad(_ v: Int32, _ n: Int) -> String {
            let s = String(v)
            return s.count >= n ? s : String(repeating: "0", count: n - s.count) + s
        }
        return "\(pad(tm.tm_year + 1900, 4))-\(pad(tm.tm_mon + 1, 2))-\(pad(tm.tm_mday, 2))T"
            + "\(pad(tm.tm_hour, 2)):\(pad(tm.tm_min, 2)):\(pad(tm.tm_sec, 2)).\(pad(Int32(ms % 1000), 3))Z"
    }
}

/// Durations the way the plan language writes them (300ms, 20m, 1h30m).
enum DurationText {
    static func format(ms: UInt64) -> String {
        if ms < 1000 { return "\(ms)ms" }
        if ms % 1000 != 0 && ms < 60_000 { return String(format: "%.1fs", Double(ms) / 1000) }
        var s = ms / 1000
        let h = s / 3600
        s %= 3600
        let m = s / 60
        s %= 60
        var out = ""
        if h > 0 { out += "\(h)h" }
        if m > 0 { out += "\(m)m" }
        if s > 0 || out.isEmpty { out += "\(s)s" }
        return out
    }
}
