/// The plan reference (docs/plan-reference.md) generated from schemas/plan.schema.json, so the
/// two cannot drift: every key with whether it is required, its default, its type or unit, and
/// its description. A test compares the committed file with this output.
public enum SchemaReference {
    public struct Row: Sendable, Hashable {
        /// Dotted key path; `[]` marks the items of a list (`constraints.anti-affinity[].name`).
        public var path: String
        public var required: Bool
        public var defaultValue: JSONValue?
        public var type: String
        public var description: String
    }

    /// Every key of the schema, depth first in the schema's order.
    public static func rows(_ schema: JSONValue) -> [Row] {
        var out: [Row] = []
        walk(schema, root: schema, prefix: "", into: &out)
        return out
    }

    static func walk(_ node: JSONValue, root: JSONValue, prefix: String, into out: inout [Row]) {
        guard let props = node["properties"], case .object(let keys) = props else { return }
        var required = Set<String>()
        if case .array(let r)? = node["required"] { for case .string(let k) in r { required.insert(k) } }
        for member in keys {
            let key = member.key
            let sub = member.value
            let path = prefix.isEmpty ? key : prefix + "." + key
            let resolved = resolve(sub, root)
            out.append(
                Row(
                    path: path, required: required.contains(key), defaultValue: sub["default"],
                    type: typeText(sub, root),
                    description: text(sub["description"]) ?? text(resolved["description"]) ?? ""))
            for object in objectForms(sub, root) {
                walk(object, root: root, prefix: path, into: &out)
            }
            // A mapping of names to objects (hosts): its keys under `path.<name>`.
            if let values = resolved["additionalProperties"], case .object = values {
                for object in objectForms(values, root) {
                    walk(object, root: root, prefix: path + ".<name>", into: &out)
                }
            }
            if let items = resolved["items"] {
                for object in objectForms(items, root) { walk(object, root: root, prefix: path + "[]", into: &out) }
            }
        }
    }

    /// The object schemas a value may be (itself, or its oneOf/anyOf alternatives), resolved.
    static func objectForms(_ s: JSONValue, _ root: JSONValue) -> [JSONValue] {
        let r = resolve(s, root)
        if r["properties"] != nil { return [r] }
        var out: [JSONValue] = []
        for key in ["oneOf", "anyOf"] {
            if case .array(let alts)? = r[key] {
                for a in alts where resolve(a, root)["properties"] != nil { out.append(resolve(a, root)) }
            }
        }
        return out
    }

    static func resolve(_ s: JSONValue, _ root: JSONValue) -> JSONValue {
        guard let ref = text(s["$ref"]), ref.hasPrefix("#/") else { return s }
        var v = root
        for part in ref.dropFirst(2).split(separator: "/") {
            guard let next = v[String(part)] else { return s }
            v = next
        }
        return v
    }

    static func text(_ v: JSONValue?) -> String? {
        if case .string(let s)? = v { return s }
        return nil
    }

    /// "one of a, b", "size: …" (a $def's title), "integer 1–1024", "list of …", alternatives with "or".
    static func typeText(_ s: JSONValue, _ root: JSONValue) -> String {
        if let ref = text(s["$ref"]) {
            let target = resolve(s, root)
            if let title = text(target["title"]) { return title }
            return typeText(target, root) + (ref.hasSuffix("hostList") ? " (host names)" : "")
        }
        if case .array(let values)? = s["enum"] { return "one of " + values.map(literal).joined(separator: ", ") }
        if let c = s["const"] { return "always " + literal(c) }
        for key in ["oneOf", "anyOf"] {
            if case .array(let alts)? = s[key] { return alts.map { typeText($0, root) }.joined(separator: ", or ") }
        }
        var types: [String] = []
        switch s["type"] {
        case .string(let t)?: types = [t]
        case .array(let ts)?: types = ts.compactMap { text($0) }
        default: break
        }
        var t = types.joined(separator: " or ")
        if types == ["integer"] || types == ["number"] {
            let lo = s["minimum"].map(literal) ?? s["exclusiveMinimum"].map { "> " + literal($0) }
            let hi = s["maximum"].map(literal)
            if let lo, let hi { t += " \(lo)–\(hi)" } else if let lo { t += lo.hasPrefix(">") ? " \(lo)" : " ≥ \(lo)" }
        }
        if types == ["array"], let items = s["items"] { t = "list of " + typeText(items, root) }
        if types == ["object"], s["properties"] == nil, let v = s["additionalProperties"], case .object = v {
            t = "mapping of name → " + typeText(v, root)
        }
        if types == ["string"], let p = text(s["pattern"]), p.contains("/GiB") { t = "duration per GiB (e.g. 2m/GiB)" }
        return t.isEmpty ? "any" : t
    }

    static func literal(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): return "`\(s)`"
        case .bool(let b): return "`\(b)`"
        case .null: return "`null`"
        case .number(let d): return d == d.rounded() && abs(d) < 1e15 ? "`\(Int64(d))`" : "`\(d)`"
        case .object(let m): return m.isEmpty ? "`{}`" : "(object)"
        case .array(let a): return a.isEmpty ? "`[]`" : "(list)"
        default: return "\(v)"
        }
    }

    /// The Markdown page: one table per top-level key group, then the units.
    public static func markdown(_ schema: JSONValue) -> String {
        var md = """
            # Plan reference (language version 1)

            Generated from `schemas/plan.schema.json` by `SchemaReference` (EvacSchema); a test fails when
            this file differs from what the schema gives (`EVAC_UPDATE_GOLDEN=1 scripts/test` rewrites it).
            A key whose default is "—" is absent unless written, with the meaning its description gives.


            """
        let all = rows(schema)
        var groups: [(String, [Row])] = []
        for r in all {
            let top = String(r.path.split(separator: ".").first ?? "")
            if let i = groups.firstIndex(where: { $0.0 == top }) {
                groups[i].1.append(r)
            } else {
                groups.append((top, [r]))
            }
        }
        md += "| key | required | default | type / unit | meaning |\n|---|---|---|---|---|\n"
        for (_, rows) in groups {
            for r in rows {
                md +=
                    "| `\(r.path)` | \(r.required ? "yes" : "no") | \(r.defaultValue.map(literal) ?? "—") | \(cell(r.type)) | \(cell(r.description)) |\n"
            }
        }
        md += "\n## Units\n\n"
        if case .object(let defs)? = schema["$defs"] {
            for member in defs {
                let name = member.key
                let d = member.value
                guard let title = text(d["title"]) else { continue }
                md +=
                    "- **\(title)**" + (text(d["description"]).map { " — \(cell($0))" } ?? "")
                    + " (`#/$defs/\(name)`)\n"
            }
        }
        return md
    }

    static func cell(_ s: String) -> String {
        s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }
}
