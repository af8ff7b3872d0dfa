import EvacCore
import EvacYAML
import Foundation
import Testing

/// `migration.groups` in the plan language: read over the plan's options, the first group that
/// matches a guest wins, bad keys, values and globs refused at FILE:LINE:COL (the golden corpus
/// has the rendered form), and the group's options reach the graph, the prediction and the plan
/// file.
@Suite struct MigrationGroupPlanTests {
    static let base = """
        version: 1
        name: g
        hosts: { a: "qemu:///system", b: "qemu:///system" }
        sources: [a]
        targets: [ { pool: p, hosts: [b] } ]

        """

    func read(_ migration: String) throws -> (PlanSpec?, [Diagnostic]) {
        let root = try YAMLReader.parse(SourceFile(path: "g.yaml", text: Self.base + migration)).get()
        return PlanReader.read(root, file: "g.yaml")
    }

    func spec(_ migration: String) throws -> PlanSpec {
        let (spec, diagnostics) = try read(migration)
        guard let spec else { throw Refused(diagnostics.map { "\($0.mark) \($0.message)" }.joined(separator: "; ")) }
        return spec
    }

    struct Refused: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    static let groups = """
        migration:
          bandwidth: 100MiB/s
          max-downtime: 500ms
          timeout: 10m
          ladder: { max-downtime: 2s, fallback: abort }
          groups:
            - name: databases
              guests: ["db-*"]
              bandwidth: 20MiB/s
              ladder: { fallback: skip }
            - name: everything-big
              guests: ["db-*", "big-*"]
              mode: paused
              max-downtime: 1s
              timeout: 30m
              ladder: false
        """

    @Test func aGroupsKeysReplaceThePlansAndTheRestIsInherited() throws {
        let s = try spec(Self.groups)
        #expect(s.migrationGroups.map(\.name) == ["databases", "everything-big"])
        let db = try #require(s.migrationGroups.first).options
        #expect(db.bandwidthBytesPerSec == 20 << 20)
        #expect(db.maxDowntimeMs == 500, "inherited")
        #expect(db.timeout == .fixed(milliseconds: 600_000), "inherited")
        // Inside ladder key by key: the plan's cap stays, the group's fallback replaces the plan's.
        #expect(db.ladder == ConvergenceLadder(maxDowntimeCapMs: 2000, fallback: .skip))
        let big = s.migrationGroups[1].options
        #expect(big.mode == .paused && big.maxDowntimeMs == 1000 && big.timeout == .fixed(milliseconds: 1_800_000))
        #expect(big.bandwidthBytesPerSec == 100 << 20, "inherited")
        #expect(big.ladder == nil, "ladder: false climbs none")
        #expect(s.migrationGroups[1].keys == ["mode", "max-downtime", "timeout", "ladder"])
        // The plan's own options are untouched by its groups.
        #expect(s.migration.bandwidthBytesPerSec == 100 << 20 && s.migration.ladder?.fallback == .abort)
    }

    @Test func theFirstGroupThatMatchesAGuestWins() throws {
        let s = try spec(Self.groups)
        #expect(s.migrationGroup(of: "db-1")?.name == "databases", "both match: the first wins")
        #expect(s.migrationGroup(of: "big-1")?.name == "everything-big")
        #expect(s.migrationGroup(of: "web-1") == nil)
        #expect(s.migration(for: "web-1") == s.migration)
        // The graph carries each guest's group; placement takes the mode from it.
        let placements = ["db-1", "big-1", "web-1"].map {
            Placement(
                guest: $0, uuid: "u-\($0)", source: "a", target: "b", memoryKiB: 1 << 20, vcpus: 1,
                mode: s.migration(for: $0).mode)
        }
        let graph = try #require(MigrationGraph.build(spec: s, placements: placements, file: "g.yaml").graph)
        #expect(graph.nodes.map(\.migrationGroup) == ["databases", "everything-big", nil])
        #expect(graph.nodes.map(\.mode) == [.live, .paused, .live])
        // Reversed, the other group wins for db-1.
        var reversed = s
        reversed.migrationGroups.reverse()
        #expect(reversed.migrationGroup(of: "db-1")?.name == "everything-big")
    }

    @Test func badKeysValuesAndGlobsAreRefusedWhereTheyAreWritten() throws {
        let (spec, diagnostics) = try read(
            """
            migration:
              groups:
                - name: dbs
                  guests: ["db-[ab"]
                  bandwith: 10MiB/s
                - name: dbs
                  guests: ["x-*"]
                  max-downtime: 5
                - guests: ["y-*"]
                  ladder: { fallback: fish }
                - name: nobody
                  guests: []
                  bandwidth: 10MiB/s
            """)
        #expect(spec == nil)
        let found = diagnostics.map { "\($0.mark.line):\($0.mark.column) \($0.message) | \($0.help ?? "")" }
        func has(_ at: String, _ text: String) -> Bool {
            found.contains { $0.hasPrefix(at + " ") && $0.contains(text) }
        }
        #expect(has("9:16", "unclosed '['"), "\(found)")
        #expect(has("10:7", "unknown key 'bandwith'") && has("10:7", "did you mean 'bandwidth'"), "\(found)")
        #expect(has("11:13", "migration group 'dbs' is listed twice (first at line 8)"), "\(found)")
        #expect(has("13:21", "max-downtime"), "\(found)")
        #expect(has("14:7", "missing 'name' in migration group 3"), "\(found)")
        #expect(has("15:27", "fish"), "\(found)")
        #expect(has("17:15", "the guests of migration group 4 is empty"), "\(found)")
        // A conflict the group makes is reported at the group's key; the plan's own is not repeated.
        let (_, conflicts) = try read(
            """
            migration:
              persist: false
              undefine-source: true
              groups:
                - { name: many, guests: ["*"], parallel-connections: 2, compression: xbzrle }
            """)
        let messages = conflicts.map { "\($0.mark.line):\($0.mark.column) \($0.message)" }
        #expect(messages.filter { $0.contains("leaves the guest defined on no host") }.count == 1, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("10:61 ") && $0.contains("xbzrle does not work with parallel") })
    }

    @Test func aGroupThatSetsNothingIsWarnedAbout() throws {
        let (spec, diagnostics) = try read("migration: { groups: [ { name: idle, guests: [\"x-*\"] } ] }")
        #expect(spec != nil)
        #expect(
            diagnostics.map(\.message) == [
                "migration group 'idle' sets no migration option: its guests migrate as the plan's"
            ])
    }

    /// The prediction of a guest follows its group's options: a group's lower bandwidth makes its
    /// guests' migrations longer, and the drain's makespan with them.
    @Test func thePredictionFollowsTheGroupsBandwidth() throws {
        let placements = ["db-1", "web-1"].map {
            Placement(
                guest: $0, uuid: "u-\($0)", source: "a", target: "b", memoryKiB: 4 << 20, vcpus: 1, mode: .live)
        }
        func drain(_ groupBandwidth: String) throws -> DrainEstimate {
            let s = try spec(
                """
                migration:
                  bandwidth: 400MiB/s
                  groups: [ { name: slow, guests: ["db-*"], bandwidth: \(groupBandwidth) } ]
                """)
            let graph = try #require(MigrationGraph.build(spec: s, placements: placements, file: "g.yaml").graph)
            return DrainEstimate(graph, options: MigrationOptionSet(s), order: .asListed)
        }
        let slow = try drain("40MiB/s")
        let fast = try drain("400MiB/s")
        func ms(_ d: DrainEstimate, _ guest: String) -> Double {
            zip(d.graph.nodes, d.predictions).first { $0.0.guest == guest }?.1.durationMs ?? -1
        }
        let setup = DurationModel.measuredSetupMs
        // 4 GiB at 40 MiB/s: 102.4 s; at 400 MiB/s: 10.24 s (idle guests: one pass).
        #expect(abs(ms(slow, "db-1") - (setup + 102_400)) < 1)
        #expect(abs(ms(fast, "db-1") - (setup + 10_240)) < 1)
        #expect(ms(slow, "web-1") == ms(fast, "web-1"), "the plan's guests keep the plan's bandwidth")
        #expect(slow.timeline.totalMs > fast.timeline.totalMs)
    }

    /// The plan file keeps each group's options in full and each node's group by name; its
    /// hash covers them; a node naming a group the file lacks is refused.
    @Test func thePlanFileKeepsTheGroupsAndTheHashCoversThem() throws {
        func planFile(_ bandwidth: String) throws -> PlanFile {
            let s = try spec(
                "migration: { groups: [ { name: slow, guests: [\"db-*\"], bandwidth: \(bandwidth) } ] }")
            let p = Placement(
                guest: "db-1", uuid: "u-db-1", source: "a", target: "b", memoryKiB: 1 << 20, vcpus: 1, mode: .live)
            let graph = try #require(MigrationGraph.build(spec: s, placements: [p], file: "g.yaml").graph)
            let inventory = Inventory(hosts: [], unreachable: [])
            return PlanFile(
                spec: s, planSource: .init(path: "g.yaml", sha256: ""), inventory: inventory,
                result: PlacementResult(placements: [p], unplaceable: [], skipped: [], targets: [], notes: []),
                graph: graph, timeline: Timeline.estimate(graph, options: MigrationOptionSet(s))
            ).sealed().file
        }
        let plan = try planFile("20MiB/s")
        #expect(plan.policy.migrationGroups?.map(\.name) == ["slow"])
        #expect(plan.policy.migrationGroups?.first?.guests == ["db-*"])
        #expect(plan.graph.nodes.first?.migrationGroup == "slow")
        #expect(plan.policy.options(for: plan.graph.nodes[0]).bandwidthBytesPerSec == 20 << 20)
        #expect(plan.problems.isEmpty, "\(plan.problems)")
        let decoded = try JSONDecoder().decode(PlanFile.self, from: plan.encoded())
        #expect(decoded == plan)
        #expect(try planFile("30MiB/s").planHash != plan.planHash, "a group's options are a decision")
        var unknown = plan
        unknown.graph.nodes[0].migrationGroup = "fast"
        #expect(unknown.problems.contains { $0.contains("names migration group 'fast', which is not in the plan") })
        var twice = plan
        twice.policy.migrationGroups = (plan.policy.migrationGroups ?? []) + (plan.policy.migrationGroups ?? [])
        #expect(twice.problems.contains("migration group 'slow' is listed twice"))
        // A command's override holds for the groups too.
        let overridden = plan.policy.changingMigrationOptions {
            var o = $0
            o.bandwidthBytesPerSec = 5 << 20
            return o
        }
        #expect(overridden.options(for: plan.graph.nodes[0]).bandwidthBytesPerSec == 5 << 20)
        #expect(overridden.migration.bandwidthBytesPerSec == 5 << 20)
    }
}
