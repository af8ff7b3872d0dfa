import Foundation

/// Parsing of sizes, durations and bandwidths as the plan language writes them.
/// Binary units only (KiB, MiB, GiB, TiB); decimal KB/MB/GB/TB are accepted and mean powers of 10.
/// A bare number or a lone "K"/"M"/"G"/"B" suffix is ambiguous and refused.
public enum Units {
    /// Why a size or duration was refused, worded for a plan diagnostic.
    public struct Failure: Error, Hashable, Sendable {
        /// What is wrong with the text ("'16' has no unit").
        public var message: String
        /// How to write it instead ("write 16GiB or 16GB").
        public var help: String
    }

    static let sizeUnits: [(String, Double)] = [
        ("TiB", 1_099_511_627_776), ("GiB", 1_073_741_824), ("MiB", 1_048_576), ("KiB", 1024),
        ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3), ("kB", 1e3), ("B", 1),
    ]
    static let ambiguousSize: [String: String] = [
        "K": "KiB", "M": "MiB", "G": "GiB", "T": "TiB", "k": "KiB", "m": "MiB", "g": "GiB",
        "Ki": "KiB", "Mi": "MiB", "Gi": "GiB", "Ti": "TiB", "kb": "KiB or KB", "mb": "MiB or MB",
        "gb": "GiB or GB", "tb": "TiB or TB", "Mb": "MiB (bytes) — 'Mb' reads as megabits",
        "Gb": "GiB (bytes) — 'Gb' reads as gigabits", "Kb": "KiB (bytes)", "mib": "MiB", "gib": "GiB",
        "kib": "KiB", "tib": "TiB",
    ]

    /// Splits "512MiB" / "1.5 GiB" into number and unit text.
    static func split(_ text: String) -> (Double, String)? {
        let t = text.trimmingCharacters(in: .whitespaces)
        var numberEnd = t.startIndex
        for i in t.indices {
            let c = t[i]
            if c.isNumber || c == "." { numberEnd = t.index(after: i) } else { break }
        }
        guard numberEnd > t.startIndex, let n = Double(t[t.startIndex..<numberEnd]), n.isFinite else { return nil }
        let unit = t[numberEnd...].trimmingCharacters(in: .whitespaces)
        return (n, unit)
    }

    /// A size in bytes.
    public static func size(_ text: String) -> Result<UInt64, Failure> {
        guard let (n, unit) = split(text) else {
            return .failure(
                Failure(message: "'\(text)' is not a size", help: "write a number and a unit, e.g. 4GiB or 512MiB"))
        }
        if unit.isEmpty {
            return .failure(
                Failure(
                    message: "size '\(text)' has no unit",
                    help: "write '\(text)GiB', '\(text)MiB' or '\(text)B' — bare numbers are ambiguous"))
        }
        if let mult = sizeUnits.first(where: { $0.0 == unit })?.1 {
            let bytes = n * mult
            guard bytes < 1.8e19 else {
                return .failure(Failure(message: "size '\(text)' is too large", help: "sizes must be below 16 EiB"))
            }
            if bytes != bytes.rounded() && unit == "B" {
                return .failure(
                    Failure(
                        message: "size '\(text)' is not a whole number of bytes", help: "use a whole number of bytes"))
            }
            return .success(UInt64(bytes.rounded()))
        }
        if let suggestion = ambiguousSize[unit] {
            return .failure(
                Failure(
                    message: "ambiguous size unit '\(unit)' in '\(text)'",
                    help: "write \(suggestion) (binary units are KiB, MiB, GiB, TiB; KB, MB, GB, TB are powers of 10)"))
        }
        return .failure(
            Failure(
                message: "unknown size unit '\(unit)' in '\(text)'",
                help: "use KiB, MiB, GiB or TiB (or KB, MB, GB, TB for powers of 10)"))
    }

    static let durationUnits: [(String, Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]

    /// A duration in milliseconds: "300ms", "20m", "1h30m", "1.5s". A bare number is refused.
    public static func duration(_ text: String) -> Result<UInt64, Failure> {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let n = Double(t), !t.isEmpty {
            _ = n
            return .failure(
                Failure(
                    message: "duration '\(text)' has no unit",
                    help: "write '\(t)s', '\(t)ms' or '\(t)m' — bare numbers are ambiguous"))
        }
        if t.contains(where: \.isWhitespace) {
            return .failure(
                Failure(
                    message: "'\(text)' is not a duration",
                    help: "write a number and a unit without spaces: 300ms, 90s, 20m or 1h30m"))
        }
        var rest = Substring(t)
        var total = 0.0
        var lastRank = Int.max
        guard !rest.isEmpty else {
            return .failure(Failure(message: "empty duration", help: "write e.g. 300ms, 20m or 1h30m"))
        }
        while !rest.isEmpty {
            var numEnd = rest.startIndex
            while numEnd < rest.endIndex, rest[numEnd].isNumber || rest[numEnd] == "." {
                numEnd = rest.index(after: numEnd)
            }
            guard numEnd > rest.startIndex, let n = Double(rest[rest.startIndex..<numEnd]) else {
                return .failure(
                    Failure(message: "'\(text)' is not a duration", help: "write e.g. 300ms, 90s, 20m or 1h30m"))
            }
            var unitEnd = numEnd
            while unitEnd < rest.endIndex, rest[unitEnd].isLetter { unitEnd = rest.index(after: unitEnd) }
            let unit = String(rest[numEnd..<unitEnd])
            guard let idx = durationUnits.firstIndex(where: { $0.0 == unit }) else {
                let hint: String
                switch unit.lowercased() {
                case "sec", "secs", "second", "seconds": hint = "write 's' for seconds"
                case "min", "mins", "minute", "minutes", "mn": hint = "write 'm' for minutes"
                case "hr", "hrs", "hour", "hours": hint = "write 'h' for hours"
                case "msec", "millis", "milliseconds": hint = "write 'ms' for milliseconds"
                case "": hint = "every number needs a unit: ms, s, m or h"
                default: hint = "units are ms, s, m and h (e.g. 1h30m)"
                }
                return .failure(
                    Failure(
                        message: unit.isEmpty
                            ? "missing unit in duration '\(text)'" : "unknown duration unit '\(unit)' in '\(text)'",
                        help: hint))
            }
            // Units must go from larger to smaller, each once: "30m1h" is a typo, not 1.5 h.
            let rank = idx
            guard rank < lastRank else {
                return .failure(
                    Failure(
                        message: "units out of order in duration '\(text)'",
                        help: "write larger units first, each once, e.g. 1h30m"))
            }
            lastRank = rank
            total += n * durationUnits[idx].1
            rest = rest[unitEnd...]
        }
        guard total < 1e15 else {
            return .failure(Failure(message: "duration '\(text)' is too long", help: "use a shorter duration"))
        }
        return .success(UInt64(total.rounded()))
    }

    /// The migration timeout grammar, one for the plan (`migration.timeout`) and for
    /// `resume --timeout`: "20m" (fixed) or "2m/GiB" / "2m per GiB" (scaled by the guest's
    /// memory). Splits off the scale; the duration is read by the caller (the plan reader reads
    /// it as a node, so that its errors point into the file).
    public static func timeoutScale(_ text: String) -> (duration: String, perGiB: Bool) {
        for sep in ["/GiB", " per GiB"] where text.hasSuffix(sep) { return (String(text.dropLast(sep.count)), true) }
        return (text, false)
    }

    /// A whole migration timeout, within `MigrationOptions.Bounds`, worded as the plan's errors.
    public static func timeout(_ text: String) -> Result<MigrationOptions.Timeout, Failure> {
        let (d, perGiB) = timeoutScale(text)
        let bounds = perGiB ? MigrationOptions.Bounds.timeoutPerGiBMs : MigrationOptions.Bounds.timeoutMs
        switch duration(d) {
        case .failure(let f): return .failure(f)
        case .success(let ms):
            if let f = outOfRange(ms, bounds, context: "timeout", found: text, why: "or 'none' for no timeout") {
                return .failure(f)
            }
            return .success(perGiB ? .perGiB(milliseconds: ms) : .fixed(milliseconds: ms))
        }
    }

    /// The one wording of a duration outside its bounds; nil when inside.
    public static func outOfRange(
        _ ms: UInt64, _ bounds: ClosedRange<UInt64>, context: String, found: String, why: String
    )
        -> Failure?
    {
        guard !bounds.contains(ms) else { return nil }
        let lo = Format.duration(ms: Double(bounds.lowerBound))
        let hi = Format.duration(ms: Double(bounds.upperBound))
        return Failure(
            message: "\(context) must be from \(lo) to \(hi), found \(found)",
            help: "write a duration in that range; \(why)")
    }

    /// A bandwidth in bytes per second: "512MiB/s", "1GiB/s", "100MB/s". Bits are refused with a hint.
    public static func bandwidth(_ text: String) -> Result<UInt64, Failure> {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard let slash = t.lastIndex(of: "/") else {
            return .failure(
                Failure(message: "bandwidth '\(text)' has no '/s'", help: "write a size per second, e.g. 512MiB/s"))
        }
        let per = t[t.index(after: slash)...]
        guard per == "s" else {
            return .failure(Failure(message: "bandwidth '\(text)' must be per second", help: "write e.g. 512MiB/s"))
        }
        let sizeText = String(t[..<slash])
        if let (_, unit) = split(sizeText),
            ["bit", "Mbit", "Gbit", "Kbit", "Mbps", "Gbps", "b"].contains(unit) || unit.hasSuffix("bit")
        {
            return .failure(
                Failure(
                    message: "bandwidth '\(text)' is in bits", help: "write bytes per second, e.g. 125MB/s for 1 Gbit/s"
                ))
        }
        switch size(sizeText) {
        case .success(let b):
            guard b > 0 else {
                return .failure(
                    Failure(
                        message: "bandwidth '\(text)' is zero",
                        help: "omit bandwidth for no limit, or give a positive rate"))
            }
            return .success(b)
        case .failure(let f):
            return .failure(
                Failure(
                    message: f.message.replacingOccurrences(of: "size", with: "bandwidth"),
                    help: f.help.replacingOccurrences(of: "e.g. 4GiB or 512MiB", with: "e.g. 512MiB/s")))
        }
    }
}

/// Every human rendering of sizes, durations and counts ("16.0 GiB", "2m30s"): one place, so
/// that reports, the live display and messages write them alike.
public enum Format {
    /// `kib` KiB as a binary size with one decimal ("16.0 GiB").
    public static func kib(_ kib: UInt64) -> String { bytes(Double(kib) * 1024) }
    /// As `kib(_:)`, for figures that can be negative (headroom after an overcommitted target).
    public static func kib(signed kib: Int64) -> String {
        kib < 0 ? "-" + bytes(-Double(kib) * 1024) : bytes(Double(kib) * 1024)
    }
    /// `b` bytes in the largest binary unit that keeps the figure at 1 or more; "? B" for a value
    /// that is not a size (negative, infinite, NaN).
    public static func bytes(_ b: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        guard b.isFinite, b >= 0 else { return "? B" }
        var v = b
        var i = 0
        while v >= 1024 && i < units.count - 1 {
            v /= 1024
            i += 1
        }
        if i == 0 { return "\(Int(v)) B" }
        // The same digits as "%.1f", without String(format:) (a text report of 100,000 guests
        // formats ~400,000 figures): exact when v × 10 is, as for every whole number of KiB.
        let t = v * 10
        if t < 1e15, (-t).addingProduct(v, 10) == 0 { // fused: zero only if the product was exact
            let tenths = Int(t.rounded(.toNearestOrEven))
            return "\(tenths / 10).\(tenths % 10) \(units[i])"
        }
        return String(format: "%.1f %@", v, units[i])
    }
    /// Durations the way the plan language writes them, exactly (300ms, 1.5s, 20m, 1h30m):
    /// what the operator could type back into a plan or `--timeout`.
    public static func planDuration(ms: UInt64) -> String {
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

    /// Bytes for a live meter: whole MiB below a GiB, so that the figure does not jitter.
    public static func meterBytes(_ b: UInt64) -> String {
        b >= 1 << 30 ? String(format: "%.1f GiB", Double(b) / Double(1 << 30)) : "\(b >> 20) MiB"
    }

    /// A count for a live meter: 950, 12.5k, 3.1M.
    public static func count(_ n: UInt64) -> String {
        if n < 1000 { return "\(n)" }
        return n < 1_000_000 ? String(format: "%.1fk", Double(n) / 1e3) : String(format: "%.1fM", Double(n) / 1e6)
    }

    /// Report durations, rounded to what a reader needs (850ms, 42s, 2m30s, 1h5m).
    public static func duration(ms: Double) -> String {
        // Estimates from a plan file are input: no Int conversion of NaN, infinity or 1e300.
        guard ms.isFinite, ms >= 0 else { return "?" }
        guard ms < 1e15 else { return ">30000 years" }
        if ms < 1000 { return "\(Int(ms.rounded()))ms" }
        var s = Int((ms / 1000).rounded())
        let h = s / 3600
        s %= 3600
        let m = s / 60
        s %= 60
        if h > 0 { return m > 0 ? "\(h)h\(m)m" : "\(h)h" }
        if m > 0 { return s > 0 ? "\(m)m\(s)s" : "\(m)m" }
        return "\(s)s"
    }
}
