/// An object written member by member straight into a `CanonicalJSONWriter`'s output, for an
/// `encode(to:)` that writes its own bytes (`CanonicalJSONWriter.writeDirectly`). Through
/// containers, an object's members are gathered as byte ranges and laid out again in key order
/// when it is complete, which for the plan file's graph meant copying its 45 MB of nodes twice
/// more. Here the caller gives the members in key order (by their UTF-8 bytes, as JSONEncoder
/// sorts them), each once, and nothing is laid out again; debug builds check the order.
struct CanonicalObjectWriter {
    private let w: CanonicalJSONWriter
    /// The object's own indent; its members are one deeper.
    private let depth: Int
    private var lastKey: String?

    init(_ w: CanonicalJSONWriter, depth: Int) {
        self.w = w
        self.depth = depth
    }

    private mutating func key(_ key: String) {
        assert(lastKey.map { $0.utf8.lexicographicallyPrecedes(key.utf8) } ?? true, "member \(key) out of key order")
        w.out.append(lastKey == nil ? 0x7B : 0x2C)
        w.out.append(0x0A)
        CanonicalJSONWriter.appendIndent(depth + 1, to: &w.out)
        CanonicalJSONWriter.appendString(key, to: &w.out)
        w.out.append(contentsOf: [0x20, 0x3A, 0x20])
        lastKey = key
    }

    /// A member whose value is encoded as `KeyedEncodingContainer.encode(_:forKey:)` encodes it.
    mutating func member<T: Encodable>(_ key: String, _ value: T) throws {
        self.key(key)
        try w.encodeValue(value, depth: depth + 1)
    }

    /// A member whose value `write` appends, as a value whose closing bracket is indented by the
    /// depth it is given.
    mutating func member(_ key: String, _ write: (inout [UInt8], Int) throws -> Void) rethrows {
        self.key(key)
        try write(&w.out, depth + 1)
    }

    /// The closing brace (and the opening one of an object without members).
    func close() {
        if lastKey == nil {
            w.out.append(0x7B)
            w.out.append(0x0A)
        }
        CanonicalJSONWriter.closeContainer(0x7D, depth, to: &w.out)
    }
}

extension CanonicalJSONWriter {
    /// `a` as a JSON array whose closing bracket is indented `depth` levels, each element
    /// written by `element`.
    static func appendArray<E>(_ a: [E], _ depth: Int, to b: inout [UInt8], _ element: (E, inout [UInt8]) -> Void) {
        b.append(0x5B)
        b.append(0x0A)
        for i in a.indices {
            if i > 0 {
                b.append(0x2C)
                b.append(0x0A)
            }
            appendIndent(depth + 1, to: &b)
            element(a[i], &b)
        }
        closeContainer(0x5D, depth, to: &b)
    }
}
