import Foundation

/// Writes exactly the bytes Foundation's `JSONEncoder` writes with
/// `[.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]` and default strategies (swift-foundation
/// on Linux): keys ordered by their UTF-8 bytes, two-space indents, `"key" : value`, empty
/// containers as `{\n\n}` / `[\n\n]`, whole Doubles without `.0`, `/` unescaped.
///
/// Hand-written because `JSONEncoder` builds a tree of boxed values and then serializes it, and
/// for a 100k-guest plan file (~40 MB) that costs about a second: half the CPU budget of
/// `evac plan`. This writes values straight into one byte buffer; only the members of an object
/// are gathered (as byte ranges) to be put in key order when the object is complete. Plan hashes
/// and golden files depend on these bytes, so the tests compare against `JSONEncoder` itself.
///
/// Not reproduced: `codingPath` (always empty, so error messages carry no path) and
/// JSONEncoder's limit of 512 nested containers.
public struct CanonicalJSONEncoder: Sendable {
    /// An encoder; it has no options, since the bytes are fixed.
    public init() {}

    /// The canonical JSON bytes of `value`; throws where `JSONEncoder` would (e.g. a non-finite Double).
    public func encode<T: Encodable>(_ value: T) throws -> Data {
        Data(try encodeBytes(value))
    }

    /// The same bytes as an array, the buffer they were written into (no copy).
    func encodeBytes<T: Encodable>(_ value: T) throws -> [UInt8] {
        let w = CanonicalJSONWriter()
        guard try w.encodeValue(value, depth: 0) else {
            throw EncodingError.invalidValue(
                value, .init(codingPath: [], debugDescription: "Top-level \(T.self) did not encode any values."))
        }
        var out: [UInt8] = []
        swap(&out, &w.out)
        return out
    }
}

/// One member of an object (or a placeholder for a nested container in an array): the encoded
/// value is `source[start..<end]`, or `box` when it was opened with `nestedContainer`,
/// `nestedUnkeyedContainer` or `superEncoder` and can still grow.
private struct Entry {
    var key: String
    var start: Int
    var end: Int
    var box: Box?
}

private enum Kind { case none, keyed, unkeyed, single }

/// The value being encoded by one `encode(to:)` call. Its bytes are `out[start...]`; the members
/// of an object live on the shared `entries` stack from `entryBase`.
private struct Frame {
    var kind: Kind = .none
    let depth: Int
    let start: Int
    let entryBase: Int
    var count = 0 // elements written (unkeyed) or values written (single)
    var hasBoxes = false // an array with nested containers to splice in when it closes
    var keyType: ObjectIdentifier?
}

/// A container that may be written to after later siblings (nested containers, super encoders):
/// it keeps its own bytes and is laid out when the enclosing value completes.
private final class Box {
    var kind: Kind
    let depth: Int
    var keyType: ObjectIdentifier?
    @exclusivity(unchecked) var buf: [UInt8] = []
    @exclusivity(unchecked) var entries: [Entry] = []
    init(_ kind: Kind, depth: Int, keyType: ObjectIdentifier? = nil) {
        self.kind = kind
        self.depth = depth
        self.keyType = keyType
    }
}

/// The order of an object's members for one sequence of keys, remembered per `CodingKey` type:
/// synthesized `encode(to:)` produces the same keys in the same order for every value of a type,
/// and sorting them anew for each of 100k nodes would cost more than writing them.
private final class KeyOrder {
    let keys: [String]
    let order: [Member]
    /// For each member in output order, its key quoted and escaped, then " : ": the j-th is
    /// `prefixes[prefixEnds[j-1]..<prefixEnds[j]]`. One buffer, so writing them retains nothing.
    let prefixes: [UInt8]
    let prefixEnds: [Int]
    init(keys: [String], order: [Member], prefixes: [UInt8], prefixEnds: [Int]) {
        self.keys = keys
        self.order = order
        self.prefixes = prefixes
        self.prefixEnds = prefixEnds
    }
}

/// Where an output member takes its key and its value from: they differ only for keys written
/// twice, where JSONEncoder's dictionary keeps the first key string and the last value.
private struct Member {
    var key: Int
    var value: Int
}

final class CanonicalJSONWriter: Encoder {
    // Unchecked: every value written modifies `out` through the class, and the runtime's
    // exclusivity bookkeeping for each access cost a fifth of the encoding time. All accesses
    // are short and none overlaps another (no closure given `&out` touches the writer).
    @exclusivity(unchecked) var out: [UInt8] = []
    @exclusivity(unchecked) private var scratch: [UInt8] = []
    @exclusivity(unchecked) fileprivate var frames: [Frame] = []
    @exclusivity(unchecked) fileprivate var entries: [Entry] = []
    private var orders: [ObjectIdentifier: [KeyOrder]] = [:]

    var codingPath: [CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init() { out.reserveCapacity(1 << 16) }

    /// Writes `value` as a JSON value whose closing bracket is indented `depth` levels.
    /// Returns false if it encoded nothing (written as `{}`, as JSONEncoder does).
    @discardableResult
    func encodeValue<T: Encodable>(_ value: T, depth: Int) throws -> Bool {
        if try appendLeaf(value, depth: depth) { return true }
        frames.append(Frame(depth: depth, start: out.count, entryBase: entries.count))
        try value.encode(to: self)
        let f = frames.removeLast()
        defer { entries.removeSubrange(f.entryBase...) }
        return try finishFrame(f, depth: depth)
    }

    /// Types JSONEncoder special-cases, and the common leaves, written without a frame;
    /// false when `value` is none of them.
    @inline(__always)
    private func appendLeaf<T: Encodable>(_ value: T, depth: Int) throws -> Bool {
        if T.self == String.self {
            Self.appendString(unsafeBitCast(value, to: String.self), to: &out)
            return true
        }
        if T.self == Int.self {
            Self.appendInt(Int64(unsafeBitCast(value, to: Int.self)), to: &out)
            return true
        }
        if T.self == UInt64.self {
            Self.appendUInt(unsafeBitCast(value, to: UInt64.self), to: &out)
            return true
        }
        if T.self == Double.self {
            try Self.appendDouble(unsafeBitCast(value, to: Double.self), to: &out)
            return true
        }
        if T.self == Bool.self {
            Self.appendBool(unsafeBitCast(value, to: Bool.self), to: &out)
            return true
        }
        if T.self == [String].self {
            appendArray(unsafeBitCast(value, to: [String].self), depth) { Self.appendString($0, to: &$1) }
            return true
        }
        if T.self == [Int].self {
            appendArray(unsafeBitCast(value, to: [Int].self), depth) { Self.appendInt(Int64($0), to: &$1) }
            return true
        }
        if T.self == Data.self {
            Self.appendString(unsafeBitCast(value, to: Data.self).base64EncodedString(), to: &out)
            return true
        }
        if T.self == URL.self {
            Self.appendString((value as! URL).absoluteString, to: &out)
            return true
        }
        if T.self == Decimal.self {
            out.append(contentsOf: (value as! Decimal).description.utf8)
            return true
        }
        return false
    }

    /// Completes the value that frame `f` encoded: an empty object for a value that wrote
    /// nothing (then false), the nested containers spliced into an array, an object's members
    /// laid out in key order.
    private func finishFrame(_ f: Frame, depth: Int) throws -> Bool {
        switch f.kind {
        case .none:
            Self.appendEmptyObject(depth, to: &out)
            return false
        case .single:
            if f.count == 0 {
                Self.appendEmptyObject(depth, to: &out)
                return false
            }
        case .unkeyed:
            if f.hasBoxes {
                // Nested containers were left as placeholders; fill them in from the back so
                // that earlier positions stay valid.
                for e in entries[f.entryBase...].reversed() {
                    var buf = takeScratch()
                    try layOut(e.box!, into: &buf)
                    out.insert(contentsOf: buf, at: e.start)
                    putScratch(buf)
                }
            }
            Self.closeContainer(0x5D, depth, to: &out)
        case .keyed:
            let order = keyOrder(entries[f.entryBase...], f.keyType)
            var buf = takeScratch()
            try out.withUnsafeBufferPointer { src in
                try writeObject(entries[f.entryBase...], order, src, depth: depth, into: &buf)
            }
            if f.start == 0 {
                swap(&out, &buf) // the whole output: no need to copy it back
            } else {
                out.removeLast(out.count - f.start)
                out.append(contentsOf: buf)
            }
            putScratch(buf)
        }
        return true
    }

    private func takeScratch() -> [UInt8] {
        var b: [UInt8] = []
        swap(&b, &scratch)
        return b
    }
    private func putScratch(_ b: [UInt8]) {
        scratch = b
        scratch.removeAll(keepingCapacity: true)
    }

    private func appendArray<E>(_ a: [E], _ depth: Int, _ element: (E, inout [UInt8]) -> Void) {
        Self.appendArray(a, depth, to: &out, element)
    }

    // MARK: Laying out objects

    /// Indices into `es` in output order: sorted by the keys' UTF-8 bytes (as JSONEncoder does
    /// on Linux), equal keys (by String ==, as in JSONEncoder's dictionary) written once.
    private func keyOrder(_ es: ArraySlice<Entry>, _ keyType: ObjectIdentifier?) -> KeyOrder {
        let n = es.count
        let base = es.startIndex
        if let keyType, let known = orders[keyType] {
            search: for k in known where k.keys.count == n {
                for i in 0..<n where es[base + i].key != k.keys[i] { continue search }
                return k
            }
        }
        let sorted = (0..<n).sorted { a, b in
            let ka = es[base + a].key
            let kb = es[base + b].key
            return ka == kb ? a < b : ka.utf8.lexicographicallyPrecedes(kb.utf8)
        }
        var order: [Member] = []
        order.reserveCapacity(n)
        var first = 0
        for (j, i) in sorted.enumerated() {
            if j > 0 && es[base + sorted[j - 1]].key != es[base + i].key { first = j }
            if j + 1 == n || es[base + sorted[j + 1]].key != es[base + i].key {
                order.append(Member(key: sorted[first], value: i))
            }
        }
        var prefixes: [UInt8] = []
        var prefixEnds: [Int] = []
        for m in order {
            Self.appendString(es[base + m.key].key, to: &prefixes)
            prefixes.append(contentsOf: [0x20, 0x3A, 0x20])
            prefixEnds.append(prefixes.count)
        }
        let result = KeyOrder(keys: es.map(\.key), order: order, prefixes: prefixes, prefixEnds: prefixEnds)
        if let keyType {
            // A few variants per type (optional members present or not); dictionaries, whose
            // keys vary, just take turns in the last slot.
            var known = orders[keyType] ?? []
            if known.count >= 8 { known.removeLast() }
            known.append(result)
            orders[keyType] = known
        }
        return result
    }

    private func writeObject(
        _ es: ArraySlice<Entry>, _ order: KeyOrder, _ src: UnsafeBufferPointer<UInt8>,
        depth: Int, into buf: inout [UInt8]
    ) throws {
        buf.append(0x7B)
        buf.append(0x0A)
        try order.prefixes.withUnsafeBufferPointer { prefixes in
            var p = 0
            for (j, m) in order.order.enumerated() {
                if j > 0 {
                    buf.append(0x2C)
                    buf.append(0x0A)
                }
                Self.appendIndent(depth + 1, to: &buf)
                let end = order.prefixEnds[j]
                buf.append(contentsOf: UnsafeBufferPointer(rebasing: prefixes[p..<end]))
                p = end
                let i = es.startIndex + m.value
                if let box = es[i].box {
                    try layOut(box, into: &buf)
                } else {
                    buf.append(contentsOf: UnsafeBufferPointer(rebasing: src[es[i].start..<es[i].end]))
                }
            }
        }
        Self.closeContainer(0x7D, depth, to: &buf)
    }

    private func layOut(_ box: Box, into buf: inout [UInt8]) throws {
        try box.buf.withUnsafeBufferPointer { src in
            switch box.kind {
            case .none:
                Self.appendEmptyObject(box.depth, to: &buf)
            case .single:
                if let e = box.entries.first {
                    buf.append(contentsOf: UnsafeBufferPointer(rebasing: src[e.start..<e.end]))
                } else {
                    Self.appendEmptyObject(box.depth, to: &buf)
                }
            case .keyed:
                try writeObject(
                    box.entries[...], keyOrder(box.entries[...], box.keyType), src, depth: box.depth, into: &buf)
            case .unkeyed:
                buf.append(0x5B)
                buf.append(0x0A)
                for (j, e) in box.entries.enumerated() {
                    if j > 0 {
                        buf.append(0x2C)
                        buf.append(0x0A)
                    }
                    Self.appendIndent(box.depth + 1, to: &buf)
                    if let inner = e.box {
                        try layOut(inner, into: &buf)
                    } else {
                        buf.append(contentsOf: UnsafeBufferPointer(rebasing: src[e.start..<e.end]))
                    }
                }
                Self.closeContainer(0x5D, box.depth, to: &buf)
            }
        }
    }

    // MARK: Containers

    fileprivate func topFrame(_ kind: Kind, keyType: ObjectIdentifier? = nil) -> Int {
        let f = frames.count - 1
        switch (frames[f].kind, kind) {
        case (.none, _):
            frames[f].kind = kind
            frames[f].keyType = keyType
            if kind == .unkeyed {
                out.append(0x5B)
                out.append(0x0A)
            }
        case (.keyed, .keyed), (.unkeyed, .unkeyed), (.single, .single): break
        default:
            preconditionFailure(
                "Attempt to encode a \(kind) container where a \(frames[f].kind) container was already used.")
        }
        return f
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let f = topFrame(.keyed, keyType: ObjectIdentifier(Key.self))
        return KeyedEncodingContainer(KeyedContainer<Key>(w: self, frame: f, box: nil, depth: frames[f].depth))
    }
    func unkeyedContainer() -> UnkeyedEncodingContainer {
        let f = topFrame(.unkeyed)
        return UnkeyedContainer(w: self, frame: f, box: nil, depth: frames[f].depth)
    }
    func singleValueContainer() -> SingleValueEncodingContainer {
        let f = topFrame(.single)
        return SingleContainer(w: self, frame: f, box: nil, depth: frames[f].depth)
    }

    /// Records the value written since `start` as a member of the frame's object or of `box`.
    @inline(__always)
    fileprivate func finishEntry(_ key: String, from start: Int, frame: Int, box: Box?) {
        if let box {
            let s = box.buf.count
            box.buf.append(contentsOf: out[start...])
            box.entries.append(Entry(key: key, start: s, end: box.buf.count, box: nil))
            out.removeSubrange(start...)
        } else {
            precondition(frame == frames.count - 1, "A container was used after its value was encoded")
            entries.append(Entry(key: key, start: start, end: out.count, box: nil))
        }
    }

    /// Separator and indent before an array element written in place.
    @inline(__always)
    fileprivate func beginElement(frame f: Int) {
        precondition(f == frames.count - 1, "A container was used after its value was encoded")
        if frames[f].count > 0 {
            out.append(0x2C)
            out.append(0x0A)
        }
        Self.appendIndent(frames[f].depth + 1, to: &out)
        frames[f].count += 1
    }

    /// Adds a nested container to the frame's object or array, or to `parent`.
    fileprivate func addBox(_ box: Box, key: String, frame f: Int, parent: Box?) {
        if let parent {
            parent.entries.append(Entry(key: key, start: 0, end: 0, box: box))
        } else if frames[f].kind == .unkeyed {
            beginElement(frame: f)
            frames[f].hasBoxes = true
            entries.append(Entry(key: key, start: out.count, end: out.count, box: box))
        } else {
            precondition(f == frames.count - 1, "A container was used after its value was encoded")
            entries.append(Entry(key: key, start: out.count, end: out.count, box: box))
        }
    }

    // MARK: Scalars

    static func appendBool(_ v: Bool, to b: inout [UInt8]) {
        b.append(contentsOf: v ? [0x74, 0x72, 0x75, 0x65] : [0x66, 0x61, 0x6C, 0x73, 0x65])
    }

    static func appendNull(to b: inout [UInt8]) { b.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C]) }

    static func appendUInt(_ v: UInt64, to b: inout [UInt8]) {
        if v < 10 {
            b.append(UInt8(truncatingIfNeeded: v) &+ 0x30)
            return
        }
        let start = b.count
        var v = v
        while v > 0 {
            b.append(UInt8(truncatingIfNeeded: v % 10) &+ 0x30)
            v /= 10
        }
        b[start...].reverse()
    }

    static func appendInt(_ v: Int64, to b: inout [UInt8]) {
        if v < 0 { b.append(0x2D) }
        appendUInt(v.magnitude, to: &b)
    }

    /// JSONEncoder writes `description` without a trailing ".0". Whole numbers below 1e15 print
    /// as plain integers there, so they skip the string.
    static func appendDouble(_ v: Double, to b: inout [UInt8]) throws {
        guard v.isFinite else { throw nonConforming(v) }
        if v.rounded(.towardZero) == v, abs(v) < 1e15, !(v == 0 && v.sign == .minus) {
            appendInt(Int64(v), to: &b)
            return
        }
        var s = v.description
        if s.hasSuffix(".0") { s.removeLast(2) }
        b.append(contentsOf: s.utf8)
    }

    static func appendFloat(_ v: Float, to b: inout [UInt8]) throws {
        guard v.isFinite else { throw nonConforming(v) }
        var s = v.description
        if s.hasSuffix(".0") { s.removeLast(2) }
        b.append(contentsOf: s.utf8)
    }

    static func nonConforming<F: FloatingPoint>(_ v: F) -> EncodingError {
        let what = v.isNaN ? "\(F.self).nan" : v < 0 ? "-\(F.self).infinity" : "\(F.self).infinity"
        return .invalidValue(v, .init(codingPath: [], debugDescription: "Unable to encode \(what) directly in JSON."))
    }

    /// Quoted, escaping what JSONEncoder escapes: `"`, `\`, and control characters (`\b \f \n \r \t`
    /// by name, the rest as `\u00xx`). DEL and non-ASCII stay as they are.
    static func appendString(_ s: String, to b: inout [UInt8]) {
        b.append(0x22)
        var s = s
        s.withUTF8 { u in
            var mark = 0
            for i in 0..<u.count {
                let c = u[i]
                guard c < 0x20 || c == 0x22 || c == 0x5C else { continue }
                if i > mark { b.append(contentsOf: UnsafeBufferPointer(rebasing: u[mark..<i])) }
                mark = i + 1
                b.append(0x5C)
                switch c {
                case 0x22, 0x5C: b.append(c)
                case 0x08: b.append(0x62)
                case 0x0C: b.append(0x66)
                case 0x0A: b.append(0x6E)
                case 0x0D: b.append(0x72)
                case 0x09: b.append(0x74)
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    b.append(contentsOf: [0x75, 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 0xF)]])
                }
            }
            if u.count > mark { b.append(contentsOf: UnsafeBufferPointer(rebasing: u[mark...])) }
        }
        b.append(0x22)
    }

    static let spaces = [UInt8](repeating: 0x20, count: 128)

    static func appendIndent(_ depth: Int, to b: inout [UInt8]) {
        var n = 2 * depth
        while n > 0 {
            let k = min(n, spaces.count)
            spaces.withUnsafeBufferPointer { b.append(contentsOf: UnsafeBufferPointer(rebasing: $0[..<k])) }
            n -= k
        }
    }

    /// After the last element: newline, the container's own indent, the bracket. An empty
    /// container is "{" "\n" then this, i.e. `{\n\n}`, as JSONEncoder writes it.
    static func closeContainer(_ bracket: UInt8, _ depth: Int, to b: inout [UInt8]) {
        b.append(0x0A)
        appendIndent(depth, to: &b)
        b.append(bracket)
    }

    static func appendEmptyObject(_ depth: Int, to b: inout [UInt8]) {
        b.append(0x7B)
        b.append(0x0A)
        closeContainer(0x7D, depth, to: &b)
    }
}

/// The Encoder handed out by `superEncoder()`: whatever container is asked of it fills `box`.
private final class BoxEncoder: Encoder {
    let w: CanonicalJSONWriter
    let box: Box
    init(_ w: CanonicalJSONWriter, _ box: Box) {
        self.w = w
        self.box = box
    }
    var codingPath: [CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    private func use(_ kind: Kind) {
        if box.kind == .none { box.kind = kind }
        precondition(
            box.kind == kind, "Attempt to encode a \(kind) container where a \(box.kind) container was already used.")
    }
    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        use(.keyed)
        box.keyType = ObjectIdentifier(Key.self)
        return KeyedEncodingContainer(KeyedContainer<Key>(w: w, frame: -1, box: box, depth: box.depth))
    }
    func unkeyedContainer() -> UnkeyedEncodingContainer {
        use(.unkeyed)
        return UnkeyedContainer(w: w, frame: -1, box: box, depth: box.depth)
    }
    func singleValueContainer() -> SingleValueEncodingContainer {
        use(.single)
        return SingleContainer(w: w, frame: -1, box: box, depth: box.depth)
    }
}

/// An object: members of the frame `frame` (on the writer's stack), or of `box` if set.
/// `depth` is the object's own indent; its members are one deeper.
private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let w: CanonicalJSONWriter
    let frame: Int
    let box: Box?
    let depth: Int
    var codingPath: [CodingKey] { [] }

    @inline(__always)
    private func put(_ key: Key, _ write: (inout [UInt8]) throws -> Void) rethrows {
        let start = w.out.count
        try write(&w.out)
        w.finishEntry(key.stringValue, from: start, frame: frame, box: box)
    }

    mutating func encodeNil(forKey key: Key) throws { put(key) { CanonicalJSONWriter.appendNull(to: &$0) } }
    mutating func encode(_ v: Bool, forKey key: Key) throws { put(key) { CanonicalJSONWriter.appendBool(v, to: &$0) } }
    mutating func encode(_ v: String, forKey key: Key) throws {
        put(key) { CanonicalJSONWriter.appendString(v, to: &$0) }
    }
    mutating func encode(_ v: Double, forKey key: Key) throws {
        try put(key) { try CanonicalJSONWriter.appendDouble(v, to: &$0) }
    }
    mutating func encode(_ v: Float, forKey key: Key) throws {
        try put(key) { try CanonicalJSONWriter.appendFloat(v, to: &$0) }
    }
    mutating func encode(_ v: Int, forKey key: Key) throws {
        put(key) { CanonicalJSONWriter.appendInt(Int64(v), to: &$0) }
    }
    mutating func encode(_ v: Int8, forKey key: Key) throws {
        put(key) { CanonicalJSONWriter.appendInt(Int64(v), to: &$0) }
    }
    mutating func encode(_ v: Int16, forKey key: Key) throws {
        put(key) { CanonicalJSONWriter.appendInt(Int64(v), to: &$0) }
    }
    mutating func encode(_ v: Int32, forKey key: Key) throws {
        put(key) { CanonicalJSONWriter.appendInt(Int64(v), to: &$0) }
    }
    mutating func encode(_ v: Int64, forKey key: Key) throws { put(key) { CanonicalJSONWriter.appendInt(v, to: &$0) } }
    mutating func encode(_ v: UInt, forKey key: Key) throws {
        put(key) { CanonicalJSONWriter.appendUInt(UInt64(v), to: &$0) }
    }
    mutating func encode(_ v: UInt8, forKey key: Key) throws {
        put(key) { CanonicalJSONWriter.appendUInt(UInt64(v), to: &$0) }
    }
    mutating func encode(_ v: UInt16, forKey key: Key) throws {
        put(key) { CanonicalJSONWriter.appendUInt(UInt64(v), to: &$0) }
    }
    mutating func encode(_ v: UInt32, forKey key: Key) throws {
        put(key) { CanonicalJSONWriter.appendUInt(UInt64(v), to: &$0) }
    }
    mutating func encode(_ v: UInt64, forKey key: Key) throws {
        put(key) { CanonicalJSONWriter.appendUInt(v, to: &$0) }
    }
    @available(macOS 15.0, *)
    mutating func encode(_ v: Int128, forKey key: Key) throws { put(key) { $0.append(contentsOf: v.description.utf8) } }
    @available(macOS 15.0, *)
    mutating func encode(_ v: UInt128, forKey key: Key) throws {
        put(key) { $0.append(contentsOf: v.description.utf8) }
    }

    mutating func encode<T: Encodable>(_ v: T, forKey key: Key) throws {
        let start = w.out.count
        try w.encodeValue(v, depth: depth + 1)
        w.finishEntry(key.stringValue, from: start, frame: frame, box: box)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        let nested = Box(.keyed, depth: depth + 1, keyType: ObjectIdentifier(NestedKey.self))
        w.addBox(nested, key: key.stringValue, frame: frame, parent: box)
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(w: w, frame: -1, box: nested, depth: depth + 1))
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
        let nested = Box(.unkeyed, depth: depth + 1)
        w.addBox(nested, key: key.stringValue, frame: frame, parent: box)
        return UnkeyedContainer(w: w, frame: -1, box: nested, depth: depth + 1)
    }
    mutating func superEncoder() -> Encoder { superEncoder(key: "super") }
    mutating func superEncoder(forKey key: Key) -> Encoder { superEncoder(key: key.stringValue) }
    private func superEncoder(key: String) -> Encoder {
        let nested = Box(.none, depth: depth + 1)
        w.addBox(nested, key: key, frame: frame, parent: box)
        return BoxEncoder(w, nested)
    }
}

/// An array: written in place into the frame `frame`, or gathered in `box` if set.
private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let w: CanonicalJSONWriter
    let frame: Int
    let box: Box?
    let depth: Int
    var codingPath: [CodingKey] { [] }
    var count: Int { box?.entries.count ?? w.frames[frame].count }

    @inline(__always)
    private func put(_ write: (inout [UInt8]) throws -> Void) rethrows {
        if box == nil { w.beginElement(frame: frame) }
        let start = w.out.count
        try write(&w.out)
        if box != nil { w.finishEntry("", from: start, frame: frame, box: box) }
    }

    mutating func encodeNil() throws { put { CanonicalJSONWriter.appendNull(to: &$0) } }
    mutating func encode(_ v: Bool) throws { put { CanonicalJSONWriter.appendBool(v, to: &$0) } }
    mutating func encode(_ v: String) throws { put { CanonicalJSONWriter.appendString(v, to: &$0) } }
    mutating func encode(_ v: Double) throws { try put { try CanonicalJSONWriter.appendDouble(v, to: &$0) } }
    mutating func encode(_ v: Float) throws { try put { try CanonicalJSONWriter.appendFloat(v, to: &$0) } }
    mutating func encode(_ v: Int) throws { put { CanonicalJSONWriter.appendInt(Int64(v), to: &$0) } }
    mutating func encode(_ v: Int8) throws { put { CanonicalJSONWriter.appendInt(Int64(v), to: &$0) } }
    mutating func encode(_ v: Int16) throws { put { CanonicalJSONWriter.appendInt(Int64(v), to: &$0) } }
    mutating func encode(_ v: Int32) throws { put { CanonicalJSONWriter.appendInt(Int64(v), to: &$0) } }
    mutating func encode(_ v: Int64) throws { put { CanonicalJSONWriter.appendInt(v, to: &$0) } }
    mutating func encode(_ v: UInt) throws { put { CanonicalJSONWriter.appendUInt(UInt64(v), to: &$0) } }
    mutating func encode(_ v: UInt8) throws { put { CanonicalJSONWriter.appendUInt(UInt64(v), to: &$0) } }
    mutating func encode(_ v: UInt16) throws { put { CanonicalJSONWriter.appendUInt(UInt64(v), to: &$0) } }
    mutating func encode(_ v: UInt32) throws { put { CanonicalJSONWriter.appendUInt(UInt64(v), to: &$0) } }
    mutating func encode(_ v: UInt64) throws { put { CanonicalJSONWriter.appendUInt(v, to: &$0) } }
    @available(macOS 15.0, *)
    mutating func encode(_ v: Int128) throws { put { $0.append(contentsOf: v.description.utf8) } }
    @available(macOS 15.0, *)
    mutating func encode(_ v: UInt128) throws { put { $0.append(contentsOf: v.description.utf8) } }

    mutating func encode<T: Encodable>(_ v: T) throws {
        if box == nil { w.beginElement(frame: frame) }
        let start = w.out.count
        try w.encodeValue(v, depth: depth + 1)
        if box != nil { w.finishEntry("", from: start, frame: frame, box: box) }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type
    ) -> KeyedEncodingContainer<NestedKey> {
        let nested = Box(.keyed, depth: depth + 1, keyType: ObjectIdentifier(NestedKey.self))
        w.addBox(nested, key: "", frame: frame, parent: box)
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(w: w, frame: -1, box: nested, depth: depth + 1))
    }
    mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
        let nested = Box(.unkeyed, depth: depth + 1)
        w.addBox(nested, key: "", frame: frame, parent: box)
        return UnkeyedContainer(w: w, frame: -1, box: nested, depth: depth + 1)
    }
    mutating func superEncoder() -> Encoder {
        let nested = Box(.none, depth: depth + 1)
        w.addBox(nested, key: "", frame: frame, parent: box)
        return BoxEncoder(w, nested)
    }
}

/// A single value, written in place at the frame's depth (or gathered in `box`).
private struct SingleContainer: SingleValueEncodingContainer {
    let w: CanonicalJSONWriter
    let frame: Int
    let box: Box?
    let depth: Int
    var codingPath: [CodingKey] { [] }

    private func claim() {
        if let box {
            precondition(
                box.entries.isEmpty,
                "Attempt to encode value through single value container when previously value already encoded.")
        } else {
            precondition(
                frame == w.frames.count - 1 && w.frames[frame].count == 0,
                "Attempt to encode value through single value container when previously value already encoded.")
            w.frames[frame].count = 1
        }
    }

    @inline(__always)
    private func put(_ write: (inout [UInt8]) throws -> Void) rethrows {
        claim()
        let start = w.out.count
        try write(&w.out)
        if box != nil { w.finishEntry("", from: start, frame: frame, box: box) }
    }

    mutating func encodeNil() throws { put { CanonicalJSONWriter.appendNull(to: &$0) } }
    mutating func encode(_ v: Bool) throws { put { CanonicalJSONWriter.appendBool(v, to: &$0) } }
    mutating func encode(_ v: String) throws { put { CanonicalJSONWriter.appendString(v, to: &$0) } }
    mutating func encode(_ v: Double) throws { try put { try CanonicalJSONWriter.appendDouble(v, to: &$0) } }
    mutating func encode(_ v: Float) throws { try put { try CanonicalJSONWriter.appendFloat(v, to: &$0) } }
    mutating func encode(_ v: Int) throws { put { CanonicalJSONWriter.appendInt(Int64(v), to: &$0) } }
    mutating func encode(_ v: Int8) throws { put { CanonicalJSONWriter.appendInt(Int64(v), to: &$0) } }
    mutating func encode(_ v: Int16) throws { put { CanonicalJSONWriter.appendInt(Int64(v), to: &$0) } }
    mutating func encode(_ v: Int32) throws { put { CanonicalJSONWriter.appendInt(Int64(v), to: &$0) } }
    mutating func encode(_ v: Int64) throws { put { CanonicalJSONWriter.appendInt(v, to: &$0) } }
    mutating func encode(_ v: UInt) throws { put { CanonicalJSONWriter.appendUInt(UInt64(v), to: &$0) } }
    mutating func encode(_ v: UInt8) throws { put { CanonicalJSONWriter.appendUInt(UInt64(v), to: &$0) } }
    mutating func encode(_ v: UInt16) throws { put { CanonicalJSONWriter.appendUInt(UInt64(v), to: &$0) } }
    mutating func encode(_ v: UInt32) throws { put { CanonicalJSONWriter.appendUInt(UInt64(v), to: &$0) } }
    mutating func encode(_ v: UInt64) throws { put { CanonicalJSONWriter.appendUInt(v, to: &$0) } }
    @available(macOS 15.0, *)
    mutating func encode(_ v: Int128) throws { put { $0.append(contentsOf: v.description.utf8) } }
    @available(macOS 15.0, *)
    mutating func encode(_ v: UInt128) throws { put { $0.append(contentsOf: v.description.utf8) } }

    mutating func encode<T: Encodable>(_ v: T) throws {
        claim()
        let start = w.out.count
        // The value gets its own frame at this container's depth.
        try w.encodeValue(v, depth: depth)
        if box != nil { w.finishEntry("", from: start, frame: frame, box: box) }
    }
}

// MARK: Values that write their own bytes

extension CanonicalJSONWriter {
    /// For an `encode(to:)` that knows its canonical bytes: when `encoder` is this writer at the
    /// start of a value (nothing of it written yet), `body` writes the value's bytes, given the
    /// writer and the value's indent depth, and the result is true. Otherwise (another encoder, a
    /// super encoder, or a value sharing its container with others, as a flattened member does)
    /// nothing is done and the result is false: the caller encodes through containers.
    static func writeDirectly(
        to encoder: any Encoder, _ body: (CanonicalJSONWriter, Int) throws -> Void
    ) rethrows -> Bool {
        guard let w = encoder as? CanonicalJSONWriter, let f = w.frames.indices.last,
            w.frames[f].kind == .none, w.frames[f].start == w.out.count, w.frames[f].entryBase == w.entries.count
        else { return false }
        // A single value, complete once written: `finishFrame` leaves its bytes as they are.
        w.frames[f].kind = .single
        w.frames[f].count = 1
        try body(w, w.frames[f].depth)
        return true
    }
}
