import EvacCore
import EvacSchema
import EvacYAML
import Foundation
import Testing

/// docs/plan-reference.md is generated from schemas/plan.schema.json, and every default the
/// schema states is the default evac really applies.
struct PlanReferenceTests {
    static func schema() throws -> JSONValue {
        try JSONValue(json: String(contentsOfFile: Repo.path("schemas/plan.schema.json"), encoding: .utf8))
    }

    @Test func theCommittedReferenceIsTheGeneratedOne() throws {
        let generated = SchemaReference.markdown(try Self.schema())
        let path = Repo.path("docs/plan-reference.md")
        if ProcessInfo.processInfo.environment["EVAC_UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(atPath: Repo.path("docs"), withIntermediateDirectories: true)
            try generated.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let committed = try String(contentsOfFile: path, encoding: .utf8)
        #expect(
            committed == generated,
            "docs/plan-reference.md is stale: run EVAC_UPDATE_GOLDEN=1 scripts/test (or swift test --filter PlanReferenceTests)"
        )
        // Every top-level key of the language is in it, and per-target says what it counts.
        for key in PlanReader.topKeys { #expect(committed.contains("| `\(key)` |"), "\(key)") }
        #expect(committed.contains("Incoming migrations in flight at once into one target host"))
    }

    static let minimal = """
        version: 1
        name: ref
        hosts: { a: "qemu:///system", b: "qemu:///system" }
        sources: [a]
        targets: [ { pool: p, hosts: [b] } ]

        """

    static func spec(_ yaml: String) throws -> PlanSpec {
        let source = SourceFile(path: "ref.yaml", text: yaml)
        let root = try YAMLReader.parse(source).get()
        let (spec, diagnostics) = PlanReader.read(root, file: "ref.yaml")
        guard let spec else { throw PlanError(diagnostics.map(\.message).joined(separator: "; ") + "\n" + yaml) }
        return spec
    }

    struct PlanError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    /// YAML for a default value (flow style, one line).
    static func yaml(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): return s
        case .bool(let b): return "\(b)"
        case .number(let d): return d == d.rounded() ? "\(Int64(d))" : "\(d)"
        case .object(let m) where m.isEmpty: return "{}"
        default: return "\(v)"
        }
    }

    /// Items of lists need their required keys: a group of guests that matches nothing.
    static let itemBase = [
        "constraints.anti-affinity": #"guests: ["nomatch-*"]"#,
        "hooks.before-migration": "run: [/bin/true]", "hooks.after-migration": "run: [/bin/true]",
        "hooks.before-drain": "run: [/bin/true]", "hooks.after-drain": "run: [/bin/true]",
        "rolling.maintenance": "run: [/bin/true]", "migration.groups": #"name: g, guests: ["nomatch-*"]"#,
    ]
    /// Mappings that need a key of their own: a window needs its length.
    /// … and a ladder needs a rung.
    static let mappingBase = [
        "window": "duration: 1h", "migration.ladder": "max-downtime: 1s",
        "migration.groups[].ladder": "max-downtime: 1s",
    ]

    /// `path: value` nested as YAML under the minimal plan (value nil: the key left out).
    static func document(_ path: String, _ value: String?) -> String {
        var parts = path.split(separator: ".").map(String.init)
        let key = parts.removeLast()
        var prefix = ""
        var inner = value.map { "\(key): \($0)" }
        for (i, p) in parts.enumerated().reversed() {
            let full = parts[...i].joined(separator: ".")
            if p.hasSuffix("[]") {
                let name = String(p.dropLast(2))
                let base =
                    itemBase[
                        parts[..<i].map { $0 }.joined(separator: ".").isEmpty
                            ? name : (parts[..<i].joined(separator: ".") + "." + name)] ?? ""
                inner =
                    "\(name): [ { \([base, inner].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ", ")) } ]"
            } else {
                inner = "\(p): { \([mappingBase[full], inner].compactMap { $0 }.joined(separator: ", ")) }"
            }
            _ = full
        }
        prefix = inner ?? ""
        return minimal + prefix + "\n"
    }

    @Test func everySchemaDefaultIsWhatEvacApplies() throws {
        let rows = SchemaReference.rows(try Self.schema()).filter { $0.defaultValue != nil }
        #expect(rows.count >= 20, "defaults found: \(rows.map(\.path))")
        for r in rows {
            let with = Self.document(r.path, Self.yaml(r.defaultValue!))
            let without = Self.document(r.path, nil)
            #expect(try Self.spec(with) == Self.spec(without), "default of \(r.path) is not evac's:\n\(with)")
        }
        // And the check can fail: a value other than the default changes the plan.
        #expect(
            try Self.spec(Self.document("parallelism.per-target", "3"))
                != Self.spec(Self.document("parallelism.per-target", nil)))
    }
}
