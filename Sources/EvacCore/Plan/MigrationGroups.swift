/// A `migration.groups` entry as the operator wrote it: the guests whose names match `guests`
/// migrate with `options`, which are the plan's `migration:` with the keys the group writes
/// replacing the plan's (inside `ladder:` key by key). When two groups match one guest the
/// first in the plan wins, as for `placement.priority` and pins.
public struct MigrationGroupSpec: Hashable, Sendable {
    public var name: String
    public var guests: [Located<Glob>]
    /// The effective options of the group's guests.
    public var options: MigrationOptions
    /// The keys the group writes (`bandwidth`, `ladder.fallback`, …), in the plan's order.
    public var keys: [String]
    public var mark: Mark
    public init(
        name: String, guests: [Located<Glob>], options: MigrationOptions, keys: [String] = [],
        mark: Mark = Mark(line: 0, column: 0)
    ) {
        self.name = name
        self.guests = guests
        self.options = options
        self.keys = keys
        self.mark = mark
    }

    public func matches(_ guest: String) -> Bool { guests.contains { $0.value.matches(guest) } }
}

extension PlanSpec {
    /// The group whose options a guest migrates with: the first that matches its name.
    public func migrationGroup(of guest: String) -> MigrationGroupSpec? {
        migrationGroups.first { $0.matches(guest) }
    }

    /// The options a guest migrates with: its group's, or the plan's `migration:`.
    public func migration(for guest: String) -> MigrationOptions {
        migrationGroup(of: guest)?.options ?? migration
    }
}

/// A migration group as the plan file keeps it: its name (which the nodes of its guests carry
/// as `migrationGroup`), the patterns it was chosen by (for the reader of the file: the nodes'
/// references are the decision) and its guests' effective options, in full.
public struct MigrationGroup: Codable, Hashable, Sendable {
    public var name: String
    public var guests: [String]
    public var options: MigrationOptions
    public init(name: String, guests: [String], options: MigrationOptions) {
        self.name = name
        self.guests = guests
        self.options = options
    }

    public init(_ spec: MigrationGroupSpec) {
        self.init(name: spec.name, guests: spec.guests.map(\.value.pattern), options: spec.options)
    }
}

/// The migration options of every migration of a plan: the plan's, and each group's for the
/// nodes that name it.
public struct MigrationOptionSet: Hashable, Sendable {
    public var plan: MigrationOptions
    public var groups: [MigrationGroup]
    private let index: [String: Int]

    public init(plan: MigrationOptions, groups: [MigrationGroup] = []) {
        self.plan = plan
        self.groups = groups
        index = Dictionary(groups.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public init(_ spec: PlanSpec) {
        self.init(plan: spec.migration, groups: spec.migrationGroups.map(MigrationGroup.init))
    }

    /// The options of the node's group (`migrationGroup`), or the plan's; a name no group has
    /// (refused in plan files by `PlanFile.problems`) gets the plan's.
    public func options(for node: MigrationGraph.Node) -> MigrationOptions { options(forGroup: node.migrationGroup) }

    /// The options of the group named `name` (a node's `migrationGroup`), or the plan's.
    public func options(forGroup name: String?) -> MigrationOptions {
        guard let name, let i = index[name] else { return plan }
        return groups[i].options
    }

    public func contains(group name: String) -> Bool { index[name] != nil }
}
