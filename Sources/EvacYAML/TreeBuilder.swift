import EvacCore

/// Folds the event stream of one document into a `Node`, resolving aliases.
///
/// Iterative (an explicit stack), so deep input cannot overflow the call stack; depth and the
/// size after alias expansion are bounded so hostile input cannot exhaust memory.
struct TreeBuilder {
    static let maxDepth = 512
    static let maxExpandedNodes = 100_000

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
                throw YAMLError(at: mark, span: name.count + 1, "alias '*\(name)' refers to a node that contains it",
                                help: "recursive structures are not supported; repeat the content instead")
            }
            guard let target = anchors[name] else {
                throw YAMLError(at: mark, span: name.count + 1, "unknown anchor '*\(name)'",
                                help: "define it with '&\(name)' before this alias")
            }
            try count(target.size, at: mark)
            add(target.node)
        case let .sequenceStart(anchor, mark), let .mappingStart(anchor, mark):
            guard stack.count < Self.maxDepth else {
                throw YAMLError(at: mark, "nesting is deeper than \(Self.maxDepth) levels",
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
                node = .mapping(stride(from: 0, to: c.count - 1, by: 2).map { .init(key: c[$0], value: c[$0 + 1]) }, frame.mark)
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

    private mutating func count(_ n: Int, at mark: Mark) throws(YAMLError) {
        expanded += n
        if expanded > Self.maxExpandedNodes {
            throw YAMLError(at: mark, "the document expands to more than \(Self.maxExpandedNodes) nodes",
                            help: "aliases ('*name') multiply content; repeat less or split the plan")
        }
    }

    private mutating func add(_ node: Node) {
        if stack.isEmpty { root = node } else { stack[stack.count - 1].children.append(node) }
    }
}
