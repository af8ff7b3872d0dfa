import Foundation

/// Why saved bytes are not a plan file evac will act on.
public struct PlanFileError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong, with the file's path where it helps.
    public var message: String
    /// What to do about it (write the plan again, use the evac that wrote it); nil when obvious.
    public var help: String?
    /// A refusal with `message` and, when there is one, `help`.
    public init(_ message: String, help: String? = nil) {
        self.message = message
        self.help = help
    }
    /// The message alone (the help is shown on its own line).
    public var description: String { message }
}

extension PlanFile {
    /// The largest plan file (or journal-stored plan) read: more than twice a 100,000-guest plan.
    public static let maxBytes = 256 << 20

    /// Decodes and verifies a saved plan (a file, or the copy stored in a journal): format,
    /// seal (hash), then everything the executor relies on (`problems`). A plan file is JSON
    /// anyone can write, so its seal only shows it is unchanged since evac wrote it; the
    /// structural checks are what keep a crafted one from crashing or misleading a run.
    public static func decode(_ data: Data) -> Result<PlanFile, PlanFileError> {
        guard data.count <= maxBytes else {
            return .failure(
                PlanFileError("it is \(data.count) bytes; evac reads plan files of at most \(maxBytes >> 20) MiB"))
        }
        let plan: PlanFile
        do { plan = try JSONDecoder().decode(PlanFile.self, from: data) } catch {
            // A file of another format version does not decode as this one: say which it is,
            // rather than which member this version misses.
            if let header = try? JSONDecoder().decode(Header.self, from: data), let refusal = header.refusal {
                return .failure(refusal)
            }
            return .failure(
                PlanFileError(
                    "not an evac plan file: \(DecodingErrorText.describe(error))",
                    help: "write one with `evac plan PLAN.yaml --output json -o FILE`"))
        }
        if let refusal = Header(plan).refusal { return .failure(refusal) }
        guard plan.planHash == plan.computedHash else {
            return .failure(
                PlanFileError(
                    "plan file was modified after it was written (hash \(TerminalText.escape(String(plan.planHash.prefix(12)))) does not match its content)",
                    help: "plan again with `evac plan … --output json`; never edit a saved plan by hand"))
        }
        if let p = plan.problems.first {
            return .failure(
                PlanFileError("plan file is inconsistent: \(p)", help: "plan again with `evac plan … --output json`"))
        }
        return .success(plan)
    }

    /// The members that say what a file is and which evac wrote it, decoded on their own.
    struct Header: Decodable {
        var format: String?
        var formatVersion: Int?
        var evacVersion: String?

        init(_ plan: PlanFile) {
            format = plan.format
            formatVersion = plan.formatVersion
            evacVersion = plan.evacVersion
        }

        /// Why evac does not read a file with this header, or nil when it does.
        var refusal: PlanFileError? {
            guard let format, let formatVersion else { return nil }
            guard format == PlanFile.formatName else {
                return PlanFileError(
                    "not an evac plan file: its format is \(TerminalText.escape(format)), not \(PlanFile.formatName)",
                    help: "write one with `evac plan PLAN.yaml --output json -o FILE`")
            }
            guard formatVersion != PlanFile.currentFormatVersion else { return nil }
            let writer = evacVersion.map { " (written by evac \(TerminalText.escape($0)))" } ?? ""
            return PlanFileError(
                "plan file format version \(formatVersion)\(writer) is not the version this evac "
                    + "(\(EvacVersion.current)) reads, \(PlanFile.currentFormatVersion)",
                help:
                    "re-run `evac plan PLAN.yaml --output json -o FILE` with this evac; a run journaled by another version is resumed or rolled back by that version"
            )
        }
    }

    /// Bounds on figures a plan file carries (a guest or host of more than 4 PiB, a million vCPUs).
    public static let maxMemoryKiB: UInt64 = 1 << 42
    /// Bounds on the vCPUs of a guest or the CPUs of a host in a plan file.
    public static let maxCPUs = 1 << 20

    /// Every inconsistency that would make the executor trip or mislead: host URIs against the
    /// URI policy, node ids, edges, hosts and figures, limits, options.
    public var problems: [String] {
        var out: [String] = []
        var hostByName: [String: HostRef] = [:]
        for h in hosts {
            if hostByName[h.name] != nil { out.append("host '\(TerminalText.escape(h.name))' is listed twice") }
            hostByName[h.name] = h
            for p in URIPolicy.check(h.uri, allowed: Set(h.allowURIRisks ?? [])) {
                out.append("host '\(TerminalText.escape(h.name))': \(p.message)")
            }
            for p in h.migrateURI.map(MigrateURIPolicy.problems) ?? [] {
                out.append("host '\(TerminalText.escape(h.name))': \(p.message)")
            }
        }
        for name in sources + targets where hostByName[name] == nil {
            out.append("host '\(TerminalText.escape(name))' has no URI")
        }
        out += graphProblems(hostByName)
        out += policy.problems
        out += connection?.problems ?? []
        out += window?.problems ?? []
        out += hooks?.problems ?? []
        out += rolling?.problems ?? []
        if !estimatedDurationMs.isFinite || estimatedDurationMs < 0 {
            out.append("the estimated duration is not a finite duration")
        }
        return out
    }

    func graphProblems(_ hostByName: [String: HostRef]) -> [String] {
        var out: [String] = []
        let l = graph.limits
        for (name, v) in [("total", l.total), ("per-source", l.perSource), ("per-target", l.perTarget)]
        where !(1...1024).contains(v) {
            out.append("parallelism \(name) \(v) is not from 1 to 1024")
        }
        var groups: Set<String> = []
        for g in l.groups {
            if !groups.insert(g.name).inserted {
                out.append("anti-affinity group '\(TerminalText.escape(g.name))' is listed twice")
            }
            if g.maxInFlight < 1 {
                out.append("anti-affinity group '\(TerminalText.escape(g.name))' allows \(g.maxInFlight) in flight")
            }
        }
        let options = policy.migrationOptions
        var ids: Set<Int> = []
        for n in graph.nodes where !ids.insert(n.id).inserted { out.append("migration #\(n.id) is listed twice") }
        for n in graph.nodes {
            let which = "migration #\(n.id) (\(TerminalText.escape(n.guest)))"
            if hostByName[n.source] == nil || hostByName[n.target] == nil {
                out.append("\(which) names a host with no URI")
            }
            if n.source == n.target { out.append("\(which) moves a guest to its own host") }
            if n.memoryKiB > Self.maxMemoryKiB || !(0...Self.maxCPUs).contains(n.vcpus) {
                out.append("\(which) has figures out of range")
            }
            if n.after.contains(where: { !ids.contains($0) || $0 == n.id }) {
                out.append("\(which) waits for a migration that is not in the plan")
            }
            if n.groups.contains(where: { !groups.contains($0) }) {
                out.append("\(which) is in an anti-affinity group that is not in the plan")
            }
            if let g = n.migrationGroup, !options.contains(group: g) {
                out.append("\(which) names migration group '\(TerminalText.escape(g))', which is not in the plan")
            }
            if [n.predictedStartMs, n.predictedDurationMs].contains(where: {
                $0.map { !($0.isFinite && $0 >= 0) } ?? false
            }) {
                out.append("\(which) has a predicted time that is not a finite duration")
            }
        }
        if out.isEmpty, graph.findCycle() != nil { out.append("its migrations wait for each other in a cycle") }
        return out
    }
}

/// Decoding errors worded for people: where in the document, and what was wrong.
public enum DecodingErrorText {
    /// Where in the document `error` happened and what was wrong, in one line; other errors as
    /// they describe themselves.
    public static func describe(_ error: Error) -> String {
        let text: String
        switch error {
        case DecodingError.keyNotFound(let key, let ctx):
            text = "missing '\(key.stringValue)' at \(path(ctx.codingPath))"
        case DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx):
            text = "\(ctx.debugDescription) at \(path(ctx.codingPath))"
        case DecodingError.dataCorrupted(let ctx):
            text = "\(ctx.debugDescription)\(ctx.codingPath.isEmpty ? "" : " at \(path(ctx.codingPath))")"
        default: text = "\(error)"
        }
        return TerminalText.escape(text)
    }

    static func path(_ keys: [CodingKey]) -> String {
        "/" + keys.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: "/")
    }
}
