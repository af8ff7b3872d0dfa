import Foundation

/// A schema compiled from JSON: keywords checked and typed, regexes compiled.
/// Immutable once loading finishes (NSRegularExpression is documented thread-safe for matching).
final class Schema: @unchecked Sendable {
    /// Set for the boolean schemas `true` and `false`.
    var always: Bool?
    var types: [String]?
    var enumValues: [JSONValue]?
    var constValue: JSONValue?
    var properties: [(String, Schema)] = []
    var required: [String] = []
    var additionalProperties: Schema?
    var patternProperties: [(String, NSRegularExpression, Schema)] = []
    var propertyNames: Schema?
    var minProperties: Int?, maxProperties: Int?
    var prefixItems: [Schema] = []
    var items: Schema?
    var minItems: Int?, maxItems: Int?
    var uniqueItems = false
    var minimum: Double?, maximum: Double?, exclusiveMinimum: Double?, exclusiveMaximum: Double?
    var minLength: Int?, maxLength: Int?
    var pattern: (String, NSRegularExpression)?
    var allOf: [Schema] = [], anyOf: [Schema]?, oneOf: [Schema]?
    var not: Schema?
    var ifSchema: Schema?, thenSchema: Schema?, elseSchema: Schema?
    var ref: String?
}

/// Why a schema was refused; `path` is a JSON pointer into the schema.
public struct SchemaLoadError: Error, Hashable, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "schema \(path.isEmpty ? "/" : path): \(message)" }
}

/// Compiles a schema document, refusing any keyword it does not implement.
struct SchemaLoader {
    static let types: Set<String> = ["null", "boolean", "object", "array", "number", "string", "integer"]
    /// Keywords that only annotate; skipping them never changes a verdict.
    static let ignored: Set<String> = ["$schema", "$id", "$comment", "title", "description", "default", "examples"]

    let root: JSONValue
    private(set) var refs: [String: Schema] = [:]
    private var pendingRefs: [(ref: String, at: String)] = []

    init(root: JSONValue) { self.root = root }

    /// Compiles the root, every definition, and every reference target.
    mutating func load() throws(SchemaLoadError) -> Schema {
        let schema = try compile(root, at: "")
        refs["#"] = schema
        while let (ref, at) = pendingRefs.popLast() {
            guard refs[ref] == nil else { continue }
            guard ref.hasPrefix("#"), let target = resolve(String(ref.dropFirst())) else {
                throw SchemaLoadError(
                    path: at,
                    message:
                        "$ref \"\(ref)\" does not point into this schema; only local references like \"#/$defs/name\" are supported"
                )
            }
            refs[ref] = try compile(target, at: String(ref.dropFirst()))
        }
        return schema
    }

    private func resolve(_ pointer: String) -> JSONValue? {
        var v = root
        guard pointer.isEmpty || pointer.hasPrefix("/") else { return nil }
        for token in pointer.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            let t = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            switch v {
            case .object:
                guard let next = v[t] else { return nil }
                v = next
            case .array(let a):
                guard let n = Int(t), a.indices.contains(n) else { return nil }
                v = a[n]
            default: return nil
            }
        }
        return v
    }

    private mutating func compile(_ json: JSONValue, at path: String) throws(SchemaLoadError) -> Schema {
        let s = Schema()
        if case .bool(let b) = json {
            s.always = b
            return s
        }
        guard case .object(let members) = json else {
            throw SchemaLoadError(path: path, message: "a schema must be an object or a boolean")
        }
        for (k, v) in members.map({ ($0.key, $0.value) }) {
            try keyword(k, v, into: s, at: path + "/" + escape(k))
        }
        return s
    }

    /// One keyword `k` of a schema, found at `here`: its value checked and kept in `s`. A
    /// keyword this validator does not implement is refused rather than ignored.
    private mutating func keyword(
        _ k: String, _ v: JSONValue, into s: Schema, at here: String
    ) throws(SchemaLoadError) {
        func err(_ m: String) -> SchemaLoadError { SchemaLoadError(path: here, message: m) }
        switch k {
        case _ where Self.ignored.contains(k): break
        case "type": s.types = try Self.typeNames(v, err)
        case "enum":
            guard case .array(let a) = v else { throw err("must be an array") }
            s.enumValues = a
        case "const": s.constValue = v
        case "properties", "patternProperties", "$defs", "definitions":
            guard case .object(let m) = v else { throw err("must be an object of schemas") }
            for member in m {
                let sub = try compile(member.value, at: here + "/" + escape(member.key))
                switch k {
                case "properties": s.properties.append((member.key, sub))
                case "patternProperties": s.patternProperties.append((member.key, try regex(member.key, here), sub))
                default: refs["#" + here + "/" + escape(member.key)] = sub
                }
            }
        case "required":
            guard case .array(let a) = v else { throw err("must be an array of strings") }
            s.required = a.compactMap { if case .string(let t) = $0 { t } else { nil } }
            guard s.required.count == a.count else { throw err("must be an array of strings") }
        case "additionalProperties": s.additionalProperties = try compile(v, at: here)
        case "propertyNames": s.propertyNames = try compile(v, at: here)
        case "items": s.items = try compile(v, at: here)
        case "not": s.not = try compile(v, at: here)
        case "if": s.ifSchema = try compile(v, at: here)
        case "then": s.thenSchema = try compile(v, at: here)
        case "else": s.elseSchema = try compile(v, at: here)
        case "prefixItems", "allOf", "anyOf", "oneOf":
            guard case .array(let a) = v, !a.isEmpty else { throw err("must be a non-empty array of schemas") }
            var subs: [Schema] = []
            for (n, item) in a.enumerated() { subs.append(try compile(item, at: here + "/\(n)")) }
            switch k {
            case "prefixItems": s.prefixItems = subs
            case "allOf": s.allOf = subs
            case "anyOf": s.anyOf = subs
            default: s.oneOf = subs
            }
        case "minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties",
            "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
            try Self.bound(k, v, into: s, err)
        case "uniqueItems":
            guard case .bool(let b) = v else { throw err("must be a boolean") }
            s.uniqueItems = b
        case "pattern":
            guard case .string(let p) = v else { throw err("must be a string") }
            s.pattern = (p, try regex(p, here))
        case "$ref":
            guard case .string(let r) = v else { throw err("must be a string") }
            s.ref = r
            pendingRefs.append((r, here))
        default:
            throw err(
                "unsupported keyword \"\(k)\"; this validator implements a subset of JSON Schema 2020-12 and refuses what it cannot check"
            )
        }
    }

    /// `type`: one type name or a non-empty array of them, each one JSON Schema knows.
    private static func typeNames(
        _ v: JSONValue, _ err: (String) -> SchemaLoadError
    ) throws(SchemaLoadError) -> [String] {
        let names: [String]
        switch v {
        case .string(let t): names = [t]
        case .array(let a):
            names = a.compactMap { if case .string(let t) = $0 { t } else { nil } }
            guard names.count == a.count, !a.isEmpty else {
                throw err("must be a type name or a non-empty array of them")
            }
        default: throw err("must be a type name or an array of them")
        }
        if let bad = names.first(where: { !Self.types.contains($0) }) {
            throw err("unknown type \"\(bad)\"")
        }
        return names
    }

    /// The count bounds (non-negative integers) and the numeric bounds (numbers).
    private static func bound(
        _ k: String, _ v: JSONValue, into s: Schema, _ err: (String) -> SchemaLoadError
    ) throws(SchemaLoadError) {
        switch k {
        case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
            guard case .number(let d) = v else { throw err("must be a number") }
            switch k {
            case "minimum": s.minimum = d
            case "maximum": s.maximum = d
            case "exclusiveMinimum": s.exclusiveMinimum = d
            default: s.exclusiveMaximum = d
            }
        default:
            guard v.isInteger, case .number(let d) = v, d >= 0 else {
                throw err("must be a non-negative integer")
            }
            let n = Int(d)
            switch k {
            case "minItems": s.minItems = n
            case "maxItems": s.maxItems = n
            case "minLength": s.minLength = n
            case "maxLength": s.maxLength = n
            case "minProperties": s.minProperties = n
            default: s.maxProperties = n
            }
        }
    }

    private func regex(_ p: String, _ at: String) throws(SchemaLoadError) -> NSRegularExpression {
        do { return try NSRegularExpression(pattern: p) } catch {
            throw SchemaLoadError(path: at, message: "invalid regular expression \"\(p)\"")
        }
    }
}

/// JSON pointer token escaping (RFC 6901).
func escape(_ token: String) -> String {
    token.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
}
