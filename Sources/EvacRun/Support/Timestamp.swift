import Foundation

/// ISO 8601 UTC timestamps with milliseconds, formatted by hand: the journal writes several per
/// migration and Foundation's formatters cost microseconds each on Linux.
public enum Timestamp {
    /// The current time, as every journal row and log line has it.
    public static func now() -> String { format(Date()) }

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
