import EvacCore

/// Folds the event stream of one document into a `Node`, resolving aliases.
///
/// Iterative (an explicit stack), so deep input cannot overflow the call stack; depth, the
/// nodes written and what aliases add are bounded so hostile input cannot exhaust memory.
///
/// Two limits, because they guard against different things: a legitimate fleet is large
/// (a 100,000-host plan is about 400,000 nodes, all written out), while an alias bomb is small
/// text that expands without end. So nodes written out are capped generously, and aliases may
/// add at most `maxAliasNodes` beyond them.
struct TreeBuilder {
    static let maxDepth = 512
    static let maxWrittenNodes = 2_000_000
    static let maxAliasNodes = 100_000

    private struct Frame {
        var isMapping: Bool
        var mark: Mark
        var anchor: String?
        /// `expanded` when the collection started; the difference at its end is its size.
        var expandedAtStart: Int
        /// Sequence items, or mapping keys and values alternating.
        var children: [Node] = []
    }

    private var stack: [Frame] = []
    private var anchors: [String: (node: Node, size: Int)] = [:]
    /// Anchors of collections still open: an alias to one would be a cycle.
    private var open: Set<String> = []
    /// Nodes in the tree so far, counting each alias as the full size of its target.
    private var expanded = 0
    /// Nodes written out in the text (aliases not counted).
    private var written = 0
    private(set) var root: Node?

    /// Feeds one node-level event; document and stream events are the reader's business.
    mutating func apply(_ event: Event) throws(YAMLError) {
        switch event {
        case let .scalar(value, quoted, anchor, mark, end):
            try count(1, at: mark)
            let node = Node.scalar(.init(value: value, quoted: quoted, mark: mark, end: end))
            if let anchor { anchors[anchor] = (node, 1) }
            add(node)
        case let .alias(name, mark):
            if open.contains(name) {
                throw YAMLError(
                    at: mark, span: name.count + 1, "alias '*\(name)' refers to a node that contains it",
                    help: "recursive structures are not supported; repeat the content instead")
            }
            guard let target = anchors[name] else {
                throw YAMLError(
                    at: mark, span: name.count + 1, "unknown anchor '*\(name)'",
                    help: "define it with '&\(name)' before this alias")
            }
            try count(target.size, at: mark, alias: true)
            add(target.node)
        case let .sequenceStart(anchor, mark), let .mappingStart(anchor, mark):
            guard stack.count < Self.maxDepth else {
                throw YAMLError(
                    at: mark, "nesting is deeper than \(Self.maxDepth) levels",
                    help: "flatten the document; no plan needs this depth")
            }
            try count(1, at: mark)
            var isMapping = false
            if case .mappingStart = event { isMapping = true }
            if let anchor { open.insert(anchor) }
            stack.append(Frame(isMapping: isMapping, mark: mark, anchor: anchor, expandedAtStart: expanded - 1))
        case .sequenceEnd, .mappingEnd:
            guard let frame = stack.popLast() else { return }
            let node: Node
            if frame.isMapping {
                let c = frame.children
                // Duplicate keys are kept as separate pairs; the plan decoder reports them.
                node = .mapping(
                    stride(from: 0, to: c.count - 1, by: 2).map { .init(key: c[$0], value: c[$0 + 1]) }, frame.mark)
            } else {
                node = .sequence(frame.children, frame.mark)
            }
            if let anchor = frame.anchor {
                open.remove(anchor)
                anchors[anchor] = (node, expanded - frame.expandedAtStart)
            }
            add(node)
        case .streamStart, .streamEnd, .documentStart, .documentEnd:
            break
        }
    }

    private mutating func count(_ n: Int, at mark: Mark, alias: Bool = false) throws(YAMLError) {
        expanded += n
        if !alias { written += 1 }
        if written > Self.maxWrittenNodes {
            throw YAMLError(
                at: mark, "the document has more than \(Self.maxWrittenNodes) nodes",
                help: "no plan needs this many; split the plan")
        }
        if expanded - written > Self.maxAliasNodes {
            throw YAMLError(
                at: mark, span: 1, "aliases expand to more than \(Self.maxAliasNodes) nodes beyond those written out",
                help: "aliases ('*name') multiply content (an alias bomb); repeat less or write the content out")
        }
    }

    private mutating func add(_ node: Node) {
        if stack.isEmpty { root = node } else { stack[stack.count - 1].children.append(node) }
    }
}
