/// A JSON value. Objects keep their members in source order (and any duplicate keys, which
/// YAML input may carry) so messages can follow the file.
///
/// Equality is JSON's: numbers by value, objects regardless of member order. All numbers are
/// `Double`; integers beyond 2^53 lose precision, which no plan value comes near.
public indirect enum JSONValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([Member])

    public struct Member: Hashable, Sendable {
        public var key: String
        public var value: JSONValue
        public init(_ key: String, _ value: JSONValue) {
            self.key = key
            self.value = value
        }
    }

    /// The first member named `key`, if this is an object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members.first { $0.key == key }?.value }
        return nil
    }

    /// True for numbers without a fractional part (JSON Schema's "integer").
    public var isInteger: Bool {
        if case .number(let d) = self { return d.isFinite && d.rounded() == d }
        return false
    }

    /// The JSON Schema type name ("integer" for whole numbers).
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return isInteger ? "integer" : "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && x.allSatisfy { m in y.contains { $0.key == m.key && $0.value == m.value } }
        default: return false
        }
    }

    public func hash(into h: inout Hasher) {
        switch self {
        case .null: h.combine(0)
        case .bool(let b):
            h.combine(1)
            h.combine(b)
        case .number(let d):
            h.combine(2)
            h.combine(d)
        case .string(let s):
            h.combine(3)
            h.combine(s)
        case .array(let a):
            h.combine(4)
            h.combine(a)
        case .object(let members):
            // Order-independent, to agree with ==.
            h.combine(5)
            h.combine(members.count)
            h.combine(members.reduce(0) { $0 &+ $1.hashValue })
        }
    }
}

extension JSONValue: CustomStringConvertible {
    /// Compact JSON, used to quote values in messages.
    public var description: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let d): return Self.format(d)
        case .string(let s): return Self.quote(s)
        case .array(let a): return "[" + a.map(\.description).joined(separator: ",") + "]"
        case .object(let m):
            return "{" + m.map { Self.quote($0.key) + ":" + $0.value.description }.joined(separator: ",") + "}"
        }
    }

    static func format(_ d: Double) -> String {
        if d.isFinite, d.rounded() == d, abs(d) < 1e15 { return String(Int64(d)) }
        return String(d)
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where u.value < 0x20:
                out +=
                    "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count)
                    + String(u.value, radix: 16)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
