import XCTest

@testable import EvacCore

final class MigrationGraphTests: XCTestCase {
    func placement(_ guest: String, _ source: String = "s1", _ target: String = "t1", gib: UInt64 = 1) -> Placement {
        Placement(
            guest: guest, uuid: "uuid-\(guest)", source: source, target: target, memoryKiB: gib << 20, vcpus: 1,
            mode: .live)
    }

    func spec(
        after: [([String], [String])] = [], groups: [(String, [String], Int)] = [],
        parallelism: Parallelism = Parallelism()
    ) -> PlanSpec {
        var s = PlanSpec(name: "t", hosts: [], sources: [], targetPools: [])
        s.placement.after = after.enumerated().map { i, r in
            AfterRule(
                move: r.0.map { Located(Glob($0)) }, after: r.1.map { Located(Glob($0)) },
                mark: Mark(line: 10 + i, column: 5))
        }
        s.constraints.antiAffinity = groups.map {
            AntiAffinityGroup(name: $0.0, guests: $0.1.map { Located(Glob($0)) }, maxInFlight: $0.2)
        }
        s.parallelism = parallelism
        return s
    }

    func testAfterEdgesAndGroups() throws {
        let ps = [placement("db-1"), placement("app-1"), placement("app-2"), placement("db-2")]
        let (g, d) = MigrationGraph.build(
            spec: spec(after: [(["db-*"], ["app-*"])], groups: [("dbs", ["db-*"], 1)]), placements: ps, file: "p.yaml")
        XCTAssertEqual(d, [])
        let graph = try XCTUnwrap(g)
        XCTAssertEqual(graph.nodes.map(\.id), [1, 2, 3, 4])
        XCTAssertEqual(graph.nodes[0].after, [2, 3])
        XCTAssertEqual(graph.nodes[3].after, [2, 3])
        XCTAssertEqual(graph.nodes[1].after, [])
        XCTAssertEqual(graph.nodes[0].groups, ["dbs"])
        XCTAssertEqual(graph.nodes[1].groups, [])
        XCTAssertEqual(graph.limits.groups, [.init(name: "dbs", maxInFlight: 1)])
    }

    func testCycleNamesTheRules() {
        let ps = [placement("db-1"), placement("app-1")]
        let s = spec(after: [(["db-*"], ["app-*"]), (["app-1"], ["db-1"])])
        let (g, d) = MigrationGraph.build(spec: s, placements: ps, file: "p.yaml")
        XCTAssertNil(g)
        XCTAssertEqual(d.count, 2)
        XCTAssertEqual(d.map(\.mark.line), [10, 11])
        XCTAssertEqual(
            d.first?.message,
            "after rules 1 (line 10), 2 (line 11) form a cycle: db-1 → app-1 → db-1 (each waits for the next)")
        XCTAssertEqual(d.first?.severity, .error)
    }

    func testLongerCycleOrder() {
        let ps = [placement("a"), placement("b"), placement("c")]
        let s = spec(after: [(["a"], ["b"]), (["b"], ["c"]), (["c"], ["a"])])
        let (_, d) = MigrationGraph.build(spec: s, placements: ps, file: "p.yaml")
        XCTAssertEqual(d.count, 3)
        XCTAssertTrue(d[0].message.contains("a → b → c → a"), d[0].message)
    }

    func testTimelineHonoursLimitsAndOrder() throws {
        // 4 × 1 GiB at 1 GiB/s with 2 s setup = 3 s each; per-target 1 → two targets, two at a time.
        let ps = [
            placement("g1", "s1", "t1"), placement("g2", "s1", "t2"), placement("g3", "s2", "t1"),
            placement("g4", "s2", "t2"),
        ]
        let (g, _) = MigrationGraph.build(
            spec: spec(parallelism: Parallelism(total: 4, perSource: 2, perTarget: 1)), placements: ps, file: "p")
        let t = Timeline.estimate(try XCTUnwrap(g), bandwidth: 1 << 30)
        XCTAssertEqual(t.entries.map(\.startMs), [0, 0, 3000, 3000])
        XCTAssertEqual(t.totalMs, 6000)
    }

    func testTimelineWaitsForDependencies() throws {
        let ps = [placement("db-1", "s1", "t1"), placement("app-1", "s2", "t2")]
        let (g, _) = MigrationGraph.build(spec: spec(after: [(["db-*"], ["app-*"])]), placements: ps, file: "p")
        let t = Timeline.estimate(try XCTUnwrap(g), bandwidth: 1 << 30)
        let db = try XCTUnwrap(t.entries.first { $0.id == 1 })
        XCTAssertEqual(db.startMs, 3000, "db-1 starts when app-1 is done")
        XCTAssertEqual(t.totalMs, 6000)
    }

    func testTimelineGroupBudget() throws {
        let ps = [placement("db-1", "s1", "t1"), placement("db-2", "s2", "t2")]
        let (g, _) = MigrationGraph.build(spec: spec(groups: [("dbs", ["db-*"], 1)]), placements: ps, file: "p")
        let t = Timeline.estimate(try XCTUnwrap(g), bandwidth: 1 << 30)
        XCTAssertEqual(t.entries.map(\.startMs), [0, 3000])
    }
}
