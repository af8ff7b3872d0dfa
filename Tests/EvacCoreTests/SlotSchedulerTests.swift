import Testing

@testable import EvacCore

private struct Step: SchedulableStep {
    var id: Int
    var guest: String
    var sourceHost: String
    var targetHost: String
    var after: [Int] = []
    var groups: [String] = []
    var rank: Int
}

private func limits(
    _ total: Int, perSource: Int = 99, perTarget: Int = 99, groups: [(String, Int)] = []
)
    -> MigrationGraph.Limits
{
    MigrationGraph.Limits(
        total: total, perSource: perSource, perTarget: perTarget,
        groups: groups.map { MigrationGraph.GroupLimit(name: $0.0, maxInFlight: $0.1) })
}

@Suite struct SlotSchedulerTests {
    @Test func everyAxisLimitsWhatStartsAndFinishingFreesTheSlot() {
        let steps = [
            Step(id: 1, guest: "a", sourceHost: "s1", targetHost: "t1", rank: 1),
            Step(id: 2, guest: "b", sourceHost: "s1", targetHost: "t2", rank: 2), // s1 full
            Step(id: 3, guest: "c", sourceHost: "s2", targetHost: "t1", rank: 3), // t1 full
            Step(id: 4, guest: "d", sourceHost: "s3", targetHost: "t3", groups: ["db"], rank: 4),
            Step(id: 5, guest: "e", sourceHost: "s4", targetHost: "t4", groups: ["db"], rank: 5), // db full
        ]
        var (s, blocked) = SlotScheduler.make(
            steps: steps, limits: limits(10, perSource: 1, perTarget: 1, groups: [("db", 1)]))
        #expect(blocked.isEmpty)
        #expect(s.takeStartable().map { s.steps[$0].id } == [1, 4])
        #expect(s.inFlight == 2)
        #expect(s.takeStartable().isEmpty)
        _ = s.finish(0, .done) // frees s1 and t1
        #expect(s.takeStartable().map { s.steps[$0].id } == [2, 3])
        _ = s.finish(1, .done)
        #expect(s.takeStartable().isEmpty) // e still waits for the db group
        _ = s.finish(3, .done)
        #expect(s.takeStartable().map { s.steps[$0].id } == [5])
    }

    @Test func aStepThatDoesNotEndDoneBlocksItsDependentsTransitively() {
        let steps = [
            Step(id: 1, guest: "a", sourceHost: "s", targetHost: "t", rank: 1),
            Step(id: 2, guest: "b", sourceHost: "s", targetHost: "t", after: [1], rank: 2),
            Step(id: 3, guest: "c", sourceHost: "s", targetHost: "t", after: [2], rank: 3),
        ]
        var (s, _) = SlotScheduler.make(steps: steps, limits: limits(4))
        #expect(s.takeStartable() == [0])
        let blocked = s.finish(0, .notDone(phrase: "failed"))
        #expect(blocked.map(\.reason) == ["waits for a, which failed", "waits for b, which is blocked"])
        #expect(!s.hasReady)
        #expect(s.takeStartable().isEmpty)
    }

    @Test func aRequeuedStepKeepsItsDependentsWaiting() {
        let steps = [
            Step(id: 1, guest: "a", sourceHost: "s", targetHost: "t", rank: 1),
            Step(id: 2, guest: "b", sourceHost: "s", targetHost: "t", after: [1], rank: 2),
        ]
        var (s, _) = SlotScheduler.make(steps: steps, limits: limits(4))
        _ = s.takeStartable()
        #expect(s.finish(0, .requeued).isEmpty)
        #expect(s.takeStartable().isEmpty)
        #expect(s.inFlight == 0)
    }

    @Test func dependenciesOutsideTheWalkBlockOrSatisfy() {
        let steps = [
            Step(id: 2, guest: "b", sourceHost: "s", targetHost: "t", after: [1], rank: 2),
            Step(id: 3, guest: "c", sourceHost: "s", targetHost: "t", after: [9], rank: 3),
            Step(id: 4, guest: "d", sourceHost: "s", targetHost: "t", after: [2], rank: 4),
        ]
        let (s, blocked) = SlotScheduler.make(steps: steps, limits: limits(4)) { id in
            id == 1 ? ("a", false, "failed") : nil // 9: unknown, treated as satisfied
        }
        #expect(blocked.map { s.steps[$0.index].id } == [2, 4])
        #expect(blocked.first?.reason == "waits for a, which failed")
        var t = s
        #expect(t.takeStartable().map { t.steps[$0].id } == [3])
    }

    @Test func craftedLimitsAndDuplicateNamesNeitherTrapNorStall() {
        let steps = (1...5).map {
            Step(id: $0 % 3, guest: "g\($0)", sourceHost: "s", targetHost: "t", groups: ["x", "x"], rank: $0)
        }
        var (s, _) = SlotScheduler.make(
            steps: steps, limits: limits(0, perSource: -1, perTarget: 0, groups: [("x", 0), ("x", 3)]))
        var started = 0
        while s.hasReady || s.inFlight > 0 {
            let now = s.takeStartable()
            #expect(now.count <= 1) // every limit below 1 counts as 1
            started += now.count
            for i in now { _ = s.finish(i, .done) }
            if now.isEmpty { break }
        }
        #expect(started == 5)
    }

    @Test func theEstimateKeepsEveryLimitAndEveryAfterRule() throws {
        let nodes = (1...9).map { i in
            MigrationGraph.Node(
                id: i,
                placement: Placement(
                    guest: "g\(i)", uuid: "u\(i)", source: i <= 5 ? "s1" : "s2", target: "t\(i % 2)",
                    memoryKiB: UInt64(i) << 20, vcpus: 1, mode: .live),
                after: i == 8 ? [1] : [], groups: i % 3 == 0 ? ["g", "g"] : [])
        }
        let l = limits(3, perSource: 2, perTarget: 2, groups: [("g", 1), ("g", 5)])
        let timeline = Timeline.estimate(MigrationGraph(nodes: nodes, limits: l), bandwidth: 1 << 30)
        #expect(timeline.entries.map(\.id) == Array(1...9))
        let node = Dictionary(uniqueKeysWithValues: nodes.map { ($0.id, $0) })
        for e in timeline.entries {
            // Everything in flight at the instant `e` starts, `e` included.
            let at = timeline.entries.filter { $0.startMs <= e.startMs && $0.endMs > e.startMs }.compactMap {
                node[$0.id]
            }
            #expect(at.count <= 3)
            #expect(Dictionary(grouping: at, by: \.source).values.allSatisfy { $0.count <= 2 })
            #expect(Dictionary(grouping: at, by: \.target).values.allSatisfy { $0.count <= 2 })
            #expect(at.filter { $0.groups.contains("g") }.count <= 1) // duplicate names: the smallest limit
        }
        let end1 = try #require(timeline.entries.first { $0.id == 1 }).endMs
        #expect(try #require(timeline.entries.first { $0.id == 8 }).startMs >= end1)
    }
}
