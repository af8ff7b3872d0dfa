import EvacCore
import Foundation

extension JSONValue {
    /// Converts a YAML node, typing plain scalars by the YAML 1.2 core schema; quoted scalars
    /// are always strings. Mapping keys become their scalar text (`1: x` has key "1");
    /// a non-scalar key becomes its compact JSON text. Duplicate keys are kept.
    public init(node: Node) {
        switch node {
        case .scalar(let s):
            self = s.quoted ? .string(s.value) : Self.coreSchema(s.value)
        case .sequence(let items, _):
            self = .array(items.map(JSONValue.init(node:)))
        case .mapping(let pairs, _):
            self = .object(pairs.map { .init(Self.key($0.key), JSONValue(node: $0.value)) })
        }
    }

    static func key(_ node: Node) -> String {
        node.scalar?.value ?? JSONValue(node: node).description
    }

    /// YAML 1.2 core schema resolution of a plain scalar (spec section 10.3.2).
    public static func coreSchema(_ s: String) -> JSONValue {
        switch s {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .number(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .number(-.infinity)
        case ".nan", ".NaN", ".NAN": return .number(.nan)
        default: break
        }
        if s.wholeMatch(of: /[-+]?[0-9]+/) != nil, let d = Double(s) { return .number(d) }
        if let m = s.wholeMatch(of: /0o([0-7]+)/), let v = UInt64(m.1, radix: 8) { return .number(Double(v)) }
        if let m = s.wholeMatch(of: /0x([0-9a-fA-F]+)/), let v = UInt64(m.1, radix: 16) { return .number(Double(v)) }
        if s.wholeMatch(of: /[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?/) != nil, let d = Double(s) {
            return .number(d)
        }
        return .string(s)
    }
}

extension Node {
    /// The node an instance JSON pointer (as in `SchemaError.path`) designates, so schema
    /// errors can be reported at a mark in the YAML file.
    public func node(at pointer: String) -> Node? {
        var node = self
        for token in pointer.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            switch node {
            case .mapping(let pairs, _):
                guard let pair = pairs.first(where: { JSONValue.key($0.key) == key }) else { return nil }
                node = pair.value
            case .sequence(let items, _):
                guard let i = Int(key), items.indices.contains(i) else { return nil }
                node = items[i]
            case .scalar:
                return nil
            }
        }
        return node
    }
}
