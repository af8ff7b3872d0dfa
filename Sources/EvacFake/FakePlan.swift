import EvacCore
import Foundation

/// Builds plan files and matching fake worlds directly (no YAML, no placement) for tests and
/// the benchmark. PlanFile and MigrationGraph.Node have no public memberwise initializers, so
/// the plan is assembled as JSON and decoded: the same path a saved plan file takes.
public struct FakePlan {
    public struct Move {
        public var guest: String
        public var source: String
        public var target: String
        public var memoryKiB: UInt64 = 1_048_576
        public var vcpus: Int = 1
        public var mode: MigrationOptions.Mode = .live
        /// Guest names this move waits for.
        public var after: [String] = []
        public var groups: [String] = []
        public var nics: [GuestNIC] = []
        /// The `migrationGroups` entry whose options the move runs with; nil = `migration`.
        public var migrationGroup: String? = nil
        public init(
            _ guest: String, from source: String, to target: String, memoryKiB: UInt64 = 1_048_576,
            mode: MigrationOptions.Mode = .live, after: [String] = [], groups: [String] = [], nics: [GuestNIC] = []
        ) {
            self.guest = guest
            self.source = source
            self.target = target
            self.memoryKiB = memoryKiB
            self.mode = mode
            self.after = after
            self.groups = groups
            self.nics = nics
        }
        public var uuid: String { FakePlan.uuid(guest) }
    }

    public var name = "fake-plan"
    public var moves: [Move]
    public var total = 4, perSource = 2, perTarget = 2
    public var groupLimits: [String: Int] = [:]
    public var migration = MigrationOptions()
    /// The plan's migration groups (moves name theirs in `migrationGroup`).
    public var migrationGroups: [MigrationGroup] = []
    public var onFailure: OnFailure = .continue
    public var reserveKiB: UInt64 = 0
    public var bridgeMap: [String: String] = [:]
    public var hooks: HookSet? = nil
    public init(moves: [Move]) { self.moves = moves }

    /// A stable, UUID-shaped id from a guest name.
    public static func uuid(_ name: String) -> String {
        let h = SHA256.hex(Array(name.utf8))
        let c = Array(h)
        func s(_ a: Int, _ b: Int) -> String { String(c[a..<b]) }
        return "\(s(0, 8))-\(s(8, 12))-\(s(12, 16))-\(s(16, 20))-\(s(20, 32))"
    }

    public var hostNames: [String] {
        Array(Set(moves.flatMap { [$0.source, $0.target] })).sorted()
    }
    public static func uri(_ host: String) -> String { "qemu+ssh://root@\(host)/system" }

    public func planFile() throws -> PlanFile {
        let ids = Dictionary(uniqueKeysWithValues: moves.enumerated().map { ($1.guest, $0 + 1) })
        let nodes: [[String: Any]] = moves.enumerated().map { i, m in
            var node: [String: Any] = [
                "id": i + 1, "guest": m.guest, "uuid": m.uuid, "source": m.source, "target": m.target,
                "memoryKiB": m.memoryKiB, "vcpus": m.vcpus, "mode": m.mode.rawValue, "copyStorage": [String](),
                "after": m.after.compactMap { ids[$0] }.sorted(), "groups": m.groups,
            ]
            if let g = m.migrationGroup { node["migrationGroup"] = g }
            return node
        }
        let policy = PlanPolicy(
            constraints: TargetConstraints(bridgeMap: bridgeMap, memoryReserveKiB: reserveKiB), migration: migration,
            migrationGroups: migrationGroups.isEmpty ? nil : migrationGroups, onFailure: onFailure)
        let policyJSON = try JSONSerialization.jsonObject(with: JSONEncoder().encode(policy))
        let doc: [String: Any] = [
            "format": PlanFile.formatName, "formatVersion": PlanFile.currentFormatVersion,
            "evacVersion": EvacVersion.current,
            "planName": name, "planHash": "", "planSource": ["path": "fake.yaml", "sha256": ""],
            "inventoryFingerprint": "", "hosts": hostNames.map { ["name": $0, "uri": Self.uri($0)] },
            "sources": Array(Set(moves.map(\.source))).sorted(), "targets": Array(Set(moves.map(\.target))).sorted(),
            "policy": policyJSON,
            "graph": [
                "nodes": nodes,
                "limits": [
                    "total": total, "perSource": perSource, "perTarget": perTarget,
                    "groups": groupLimits.sorted { $0.key < $1.key }.map { ["name": $0.key, "maxInFlight": $0.value] },
                ],
            ],
            "unplaceable": [Any](), "skipped": [Any](), "targetUsage": [Any](), "notes": [Any](),
            "estimatedDurationMs": 0,
        ]
        var withHooks = doc
        if let hooks { withHooks["hooks"] = try JSONSerialization.jsonObject(with: JSONEncoder().encode(hooks)) }
        var plan = try JSONDecoder().decode(PlanFile.self, from: JSONSerialization.data(withJSONObject: withHooks))
        plan.planHash = plan.computedHash
        return plan
    }

    /// A world where every guest is on its source (running, or shut off for offline moves) and
    /// every host has `hostMemoryKiB`, `cpus` and the bridges `br0`, `br1`.
    public func world(
        hostMemoryKiB: UInt64 = 1 << 40, cpus: Int = 1024, bridges: [String] = ["br0", "br1"],
        migrationDelay: Duration = .zero
    ) -> FakeHypervisor {
        var guestsByHost: [String: [Guest]] = [:]
        for m in moves {
            guestsByHost[m.source, default: []].append(
                Guest(
                    uuid: m.uuid, name: m.guest, state: m.mode == .offline ? .shutoff : .running, persistent: true,
                    memoryKiB: m.memoryKiB, vcpus: m.vcpus, nics: m.nics))
        }
        let hosts = hostNames.map { h in
            HostInventory(
                name: h, uri: Self.uri(h), memoryKiB: hostMemoryKiB, cpus: cpus,
                cpu: HostCPU(vendor: "Intel", model: "Icelake-Server", features: []),
                bridges: bridges, guests: guestsByHost[h] ?? [])
        }
        let groups = Dictionary(uniqueKeysWithValues: moves.map { ($0.uuid, $0.groups) })
        return FakeHypervisor(hosts: hosts, groupsOf: groups, migrationDelay: migrationDelay)
    }
}
