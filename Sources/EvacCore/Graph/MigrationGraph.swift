/// The DAG of migrations: one node per placed guest, `after` edges from the plan's ordering
/// rules, and the limits the executor enforces while walking it.
public struct MigrationGraph: Codable, Hashable, Sendable {
    /// One migration of the plan: the placement it carries out (the record that goes on to the
    /// executor's step and the journal), its number in the plan's order, and the rules that
    /// hold it back. Encoded flat, the placement's members beside the node's own, as plan
    /// files of format 2 have always had them (so the plan hash and the golden files stay).
    public struct Node: Codable, Hashable, Sendable {
        /// 1-based, in the plan's order; among ready migrations the lower id starts first.
        public var id: Int
        /// Which guest moves from where to where, and how, as placement decided it.
        public var placement: Placement
        /// Ids that must be done before this one starts.
        public var after: [Int]
        /// Anti-affinity groups this migration counts against.
        public var groups: [String]
        /// The `migration.groups` entry whose options this migration uses (the first that
        /// matches the guest); nil = the plan's `migration:` options.
        public var migrationGroup: String?
        /// When the estimate starts it and how long the duration model says it takes, ms from
        /// the start of the run. Informational (not covered by the plan hash: they depend on the
        /// bandwidth a command assumes and on momentary dirty rates); nil in plan files written
        /// before they existed.
        public var predictedStartMs: Double?
        /// See `predictedStartMs`.
        public var predictedDurationMs: Double?

        /// The migration of placement `p`, number `id` in the plan's order; `after` and `groups`
        /// empty until the plan's ordering rules and anti-affinity groups are applied to it.
        public init(
            id: Int, placement: Placement, after: [Int] = [], groups: [String] = [], migrationGroup: String? = nil,
            predictedStartMs: Double? = nil, predictedDurationMs: Double? = nil
        ) {
            self.id = id
            self.placement = placement
            self.after = after
            self.groups = groups
            self.migrationGroup = migrationGroup
            self.predictedStartMs = predictedStartMs
            self.predictedDurationMs = predictedDurationMs
        }

        private enum CodingKeys: String, CodingKey {
            case id, after, groups, migrationGroup, predictedStartMs, predictedDurationMs
        }

        /// Reads the node's members and, from the same object, its placement's.
        public init(from decoder: any Decoder) throws {
            placement = try Placement(from: decoder)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = try c.decode(Int.self, forKey: .id)
            after = try c.decode([Int].self, forKey: .after)
            groups = try c.decode([String].self, forKey: .groups)
            migrationGroup = try c.decodeIfPresent(String.self, forKey: .migrationGroup)
            predictedStartMs = try c.decodeIfPresent(Double.self, forKey: .predictedStartMs)
            predictedDurationMs = try c.decodeIfPresent(Double.self, forKey: .predictedDurationMs)
        }

        /// Writes the placement's members and the node's into one object (keys come out sorted).
        public func encode(to encoder: any Encoder) throws {
            try placement.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(after, forKey: .after)
            try c.encode(groups, forKey: .groups)
            try c.encodeIfPresent(migrationGroup, forKey: .migrationGroup)
            try c.encodeIfPresent(predictedStartMs, forKey: .predictedStartMs)
            try c.encodeIfPresent(predictedDurationMs, forKey: .predictedDurationMs)
        }

        /// The guest's libvirt domain name.
        public var guest: String { placement.guest }
        /// The guest's libvirt UUID, by which the executor and resume find it.
        public var uuid: String { placement.uuid }
        /// The host being drained.
        public var source: String { placement.source }
        /// The host placement chose.
        public var target: String { placement.target }
        /// Configured memory, what the migration transfers at least.
        public var memoryKiB: UInt64 { placement.memoryKiB }
        /// Configured vCPUs.
        public var vcpus: Int { placement.vcpus }
        /// How the guest moves (offline when it is shut off).
        public var mode: MigrationOptions.Mode { placement.mode }
        /// Target devices of the local disks copied with it.
        public var copyStorage: [String] { placement.copyStorage }
        /// Why it did not go to the target with the most free memory, when it did not.
        public var offMostFree: String? { placement.offMostFree }
    }

    /// How many migrations may be in flight at once: in all, per source, per target, per group.
    public struct Limits: Codable, Hashable, Sendable {
        /// In flight in all (`parallel.total`).
        public var total: Int
        /// In flight from one source host: its NICs and disks carry all of them.
        public var perSource: Int
        /// In flight onto one target host.
        public var perTarget: Int
        /// Group name -> max migrations of the group in flight.
        public var groups: [GroupLimit]
        /// Limits; `groups` empty when the plan names none.
        public init(total: Int, perSource: Int, perTarget: Int, groups: [GroupLimit] = []) {
            self.total = total
            self.perSource = perSource
            self.perTarget = perTarget
            self.groups = groups
        }
    }

    /// An anti-affinity group's own limit: how many of its members may move at once.
    public struct GroupLimit: Codable, Hashable, Sendable {
        /// The group's name in the plan.
        public var name: String
        /// Members of the group in flight at once.
        public var maxInFlight: Int
    }

    /// One per placed guest, in the plan's order (ids 1…n).
    public var nodes: [Node]
    /// What the executor, and the estimate, walk the nodes under.
    public var limits: Limits
    /// A graph of `nodes` under `limits`.
    public init(nodes: [Node], limits: Limits) {
        self.nodes = nodes
        self.limits = limits
    }

    private enum CodingKeys: String, CodingKey { case nodes, limits }

    /// The graph's members. Through `CanonicalJSONEncoder` (plan files) its bytes are written
    /// directly (`MigrationGraph+CanonicalJSON.swift`): the same bytes, without a container per node.
    public func encode(to encoder: any Encoder) throws {
        if try writeCanonical(to: encoder) { return }
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(nodes, forKey: .nodes)
        try c.encode(limits, forKey: .limits)
    }
    /// Builds the graph from placements in their order. Cycles are reported as diagnostics
    /// at the `after` rules that cause them, and the graph is nil.
    public static func build(
        spec: PlanSpec, placements: [Placement], file: String
    ) -> (graph: MigrationGraph?, diagnostics: [Diagnostic]) {
        var nodes: [Node] = placements.enumerated().map { i, p in
            var n = Node(id: i + 1, placement: p)
            n.migrationGroup = spec.migrationGroup(of: p.guest)?.name
            return n
        }
        for group in spec.constraints.antiAffinity {
            for i in nodes.indices where group.guests.contains(where: { $0.value.matches(nodes[i].guest) }) {
                nodes[i].groups.append(group.name)
            }
        }
        // Edge (from -> to) means `to` waits for `from`; remember which rule made it.
        var ruleOfEdge: [Int: [Int: Int]] = [:]
        for (r, rule) in spec.placement.after.enumerated() {
            let movers = nodes.indices.filter { i in rule.move.contains { $0.value.matches(nodes[i].guest) } }
            let waits = nodes.indices.filter { i in rule.after.contains { $0.value.matches(nodes[i].guest) } }
            for m in movers {
                for w in waits where w != m {
                    if ruleOfEdge[w, default: [:]][m] == nil {
                        ruleOfEdge[w, default: [:]][m] = r
                        nodes[m].after.append(nodes[w].id)
                    }
                }
            }
        }
        for i in nodes.indices { nodes[i].after.sort() }
        let limits = Limits(
            total: spec.parallelism.total, perSource: min(spec.parallelism.perSource, spec.parallelism.total),
            perTarget: min(spec.parallelism.perTarget, spec.parallelism.total),
            groups: spec.constraints.antiAffinity.map { GroupLimit(name: $0.name, maxInFlight: $0.maxInFlight) })
        let graph = MigrationGraph(nodes: nodes, limits: limits)
        if let cycle = graph.findCycle() {
            // cycle is a list of node indices, each waiting for the next.
            var rules = Set<Int>()
            for k in cycle.indices {
                let waiter = cycle[k]
                let waited = cycle[(k + 1) % cycle.count]
                if let r = ruleOfEdge[waited]?[waiter] { rules.insert(r) }
            }
            let path = (cycle + [cycle[0]]).map { nodes[$0].guest }.joined(separator: " → ")
            let ruleList = rules.sorted()
            let names = ruleList.map { "\($0 + 1) (line \(spec.placement.after[$0].mark.line))" }.joined(
                separator: ", ")
            let diags = ruleList.map { r in
                Diagnostic(
                    .error, file: file, at: spec.placement.after[r].mark,
                    "after rule\(ruleList.count > 1 ? "s" : "") \(names) form a cycle: \(path) (each waits for the next)",
                    help: "remove or narrow one of these rules so that the guests they match do not wait for each other"
                )
            }
            return (nil, diags)
        }
        return (graph, [])
    }

    /// A cycle of node indices (each waits for the next), or nil. Iterative DFS: no recursion depth limits.
    func findCycle() -> [Int]? {
        let index = Dictionary(nodes.indices.map { (nodes[$0].id, $0) }, uniquingKeysWith: { first, _ in first })
        var color = [UInt8](repeating: 0, count: nodes.count) // 0 new, 1 on stack, 2 done
        var parent = [Int](repeating: -1, count: nodes.count)
        for start in nodes.indices where color[start] == 0 {
            var stack: [(Int, Int)] = [(start, 0)]
            color[start] = 1
            while let (v, next) = stack.last {
                let deps = nodes[v].after
                if next < deps.count {
                    stack[stack.count - 1].1 += 1
                    guard let w = index[deps[next]] else { continue }
                    if color[w] == 0 {
                        color[w] = 1
                        parent[w] = v
                        stack.append((w, 0))
                    } else if color[w] == 1 {
                        var cycle = [w]
                        var x = v
                        while x != w {
                            cycle.append(x)
                            x = parent[x]
                        }
                        // Built from v back to w; reorder so each element waits for the next.
                        return [w] + cycle.dropFirst().reversed()
                    }
                } else {
                    color[v] = 2
                    stack.removeLast()
                }
            }
        }
        return nil
    }
}
