/// The graph's canonical JSON written directly: its nodes are nine tenths of a plan file (45 MB at
/// 100,000 guests), and through `Encodable` each node cost a frame, fifteen keyed members
/// gathered as byte ranges and an object laid out anew in key order, then the graph object and
/// the file's object were each laid out again around the whole node array. Written here member
/// by member in key order, every byte goes into the output once. The bytes are exactly those of
/// the `Encodable` path, which JSONEncoder still takes (`CanonicalJSONEncoderTests`).
extension MigrationGraph {
    /// Writes the graph's bytes when `encoder` is a `CanonicalJSONWriter` at the start of a
    /// value; false (nothing written) otherwise.
    func writeCanonical(to encoder: any Encoder) throws -> Bool {
        try CanonicalJSONWriter.writeDirectly(to: encoder) { w, depth in
            var o = CanonicalObjectWriter(w, depth: depth)
            try o.member("limits", limits)
            try o.member("nodes") { b, d in try Node.appendCanonical(nodes, depth: d, to: &b) }
            o.close()
        }
    }
}

extension MigrationGraph.Node {
    /// The members of a node in the file, placement's and the node's own, in key order (the
    /// order `appendCanonical` writes them in; a test checks it is sorted).
    static let canonicalKeys = [
        "after", "copyStorage", "groups", "guest", "id", "memoryKiB", "migrationGroup", "mode", "offMostFree",
        "predictedDurationMs", "predictedStartMs", "source", "target", "uuid", "vcpus",
    ]

    /// `nodes` as a JSON array whose closing bracket is indented `depth` levels, as the
    /// `Encodable` path writes it.
    static func appendCanonical(_ nodes: [Self], depth: Int, to b: inout [UInt8]) throws {
        let keys = NodeKeys(depth: depth + 1)
        b.append(0x5B)
        b.append(0x0A)
        for i in nodes.indices {
            if i > 0 {
                b.append(0x2C)
                b.append(0x0A)
            }
            CanonicalJSONWriter.appendIndent(depth + 1, to: &b)
            try nodes[i].appendCanonical(keys, to: &b)
        }
        CanonicalJSONWriter.closeContainer(0x5D, depth, to: &b)
    }

    /// One node as an object indented `keys.depth` levels.
    private func appendCanonical(_ keys: NodeKeys, to b: inout [UInt8]) throws {
        typealias W = CanonicalJSONWriter
        let d = keys.depth + 1
        keys.append(.after, to: &b)
        W.appendArray(after, d, to: &b) { W.appendInt(Int64($0), to: &$1) }
        keys.append(.copyStorage, to: &b)
        W.appendArray(placement.copyStorage, d, to: &b) { W.appendString($0, to: &$1) }
        keys.append(.groups, to: &b)
        W.appendArray(groups, d, to: &b) { W.appendString($0, to: &$1) }
        keys.append(.guest, to: &b)
        W.appendString(placement.guest, to: &b)
        keys.append(.id, to: &b)
        W.appendInt(Int64(id), to: &b)
        keys.append(.memoryKiB, to: &b)
        W.appendUInt(placement.memoryKiB, to: &b)
        if let migrationGroup {
            keys.append(.migrationGroup, to: &b)
            W.appendString(migrationGroup, to: &b)
        }
        keys.append(.mode, to: &b)
        W.appendString(placement.mode.rawValue, to: &b)
        if let offMostFree = placement.offMostFree {
            keys.append(.offMostFree, to: &b)
            W.appendString(offMostFree, to: &b)
        }
        if let predictedDurationMs {
            keys.append(.predictedDurationMs, to: &b)
            try W.appendDouble(predictedDurationMs, to: &b)
        }
        if let predictedStartMs {
            keys.append(.predictedStartMs, to: &b)
            try W.appendDouble(predictedStartMs, to: &b)
        }
        keys.append(.source, to: &b)
        W.appendString(placement.source, to: &b)
        keys.append(.target, to: &b)
        W.appendString(placement.target, to: &b)
        keys.append(.uuid, to: &b)
        W.appendString(placement.uuid, to: &b)
        keys.append(.vcpus, to: &b)
        W.appendInt(Int64(placement.vcpus), to: &b)
        W.closeContainer(0x7D, keys.depth, to: &b)
    }
}

/// What comes before each member's value in a node object at one depth: `{` or `,`, a newline,
/// the indent, the quoted key and ` : `, all in one buffer so that writing one is one copy.
private struct NodeKeys {
    /// Positions in `MigrationGraph.Node.canonicalKeys`.
    enum Key: Int {
        case after, copyStorage, groups, guest, id, memoryKiB, migrationGroup, mode, offMostFree
        case predictedDurationMs, predictedStartMs, source, target, uuid, vcpus
    }
    /// The object's own indent; its members are one deeper.
    let depth: Int
    private let bytes: [UInt8]
    private let ends: [Int]

    init(depth: Int) {
        self.depth = depth
        var bytes: [UInt8] = []
        var ends: [Int] = []
        for (k, key) in MigrationGraph.Node.canonicalKeys.enumerated() {
            // `after` is always the first member: it opens the object.
            bytes.append(k == 0 ? 0x7B : 0x2C)
            bytes.append(0x0A)
            CanonicalJSONWriter.appendIndent(depth + 1, to: &bytes)
            CanonicalJSONWriter.appendString(key, to: &bytes)
            bytes.append(contentsOf: [0x20, 0x3A, 0x20])
            ends.append(bytes.count)
        }
        self.bytes = bytes
        self.ends = ends
    }

    @inline(__always)
    func append(_ key: Key, to b: inout [UInt8]) {
        let k = key.rawValue
        let start = k == 0 ? 0 : ends[k - 1]
        bytes.withUnsafeBufferPointer { b.append(contentsOf: UnsafeBufferPointer(rebasing: $0[start..<ends[k]])) }
    }
}
