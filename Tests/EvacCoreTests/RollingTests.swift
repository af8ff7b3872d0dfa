import Testing

@testable import EvacCore

/// A rolling cycle's batches, each batch's plan, and the up-front N+1 check.
@Suite struct RollingTests {
    static func host(_ name: String, memoryGiB: UInt64, guests: [(String, UInt64)]) -> HostInventory {
        HostInventory(
            name: name, uri: "qemu+ssh://\(name)/system", memoryKiB: memoryGiB << 20, cpus: 64,
            cpu: HostCPU(vendor: "Intel", model: "Icelake-Server", features: []), bridges: ["br0"],
            guests: guests.map {
                Guest(
                    uuid: "uuid-\($0.0)", name: $0.0, state: .running, persistent: true,
                    memoryKiB: $0.1 << 20, vcpus: 1)
            })
    }

    static func spec(_ hosts: [String], returnGuests: Bool = true, atATime: Int = 1) -> PlanSpec {
        var s = PlanSpec(
            name: "roll", hosts: hosts.map { HostSpec(name: $0, uri: "qemu+ssh://\($0)/system") },
            sources: hosts.map { Located($0) },
            targetPools: [TargetPool(name: "all", hosts: hosts.map { Located($0) })])
        var r = RollingSpec()
        r.returnGuests = returnGuests
        r.atATime = atATime
        s.rolling = r
        return s
    }

    @Test func batchesKeepThePlansOrder() {
        var r = RollingSpec()
        r.atATime = 2
        #expect(r.batches(["a", "b", "c", "d", "e"]) == [["a", "b"], ["c", "d"], ["e"]])
    }

    @Test func aPhaseDrainsItsBatchIntoTheOthers() {
        let phase = Self.spec(["a", "b", "c"]).rollingPhase(["b"])
        #expect(phase.sourceNames == ["b"])
        #expect(phase.targetNames == ["a", "c"])
        #expect(phase.rolling == nil)
        #expect(phase.name == "roll--b")
    }

    static var fleet: Inventory {
        Inventory(hosts: [
            Self.host("a", memoryGiB: 16, guests: [("a1", 6), ("a2", 4)]),
            Self.host("b", memoryGiB: 16, guests: [("b1", 6), ("b2", 4)]),
            Self.host("c", memoryGiB: 16, guests: [("c1", 6), ("c2", 4)]),
        ])
    }

    /// Three 16 GiB hosts with 10 GiB of guests each: each host's guests fit on the other two.
    /// Coming back after each batch, every batch places its own two guests; left where they
    /// went, the second batch also carries what the first sent it.
    @Test func theCheckFollowsTheGuestsWhenTheyStay() {
        let back = RollingCheck.check(Self.spec(["a", "b", "c"]), inventory: Self.fleet)
        #expect(back.map(\.hosts) == [["a"], ["b"], ["c"]])
        #expect(back.allSatisfy { $0.unplaceable.isEmpty && $0.placements.count == 2 })
        #expect(back[0].placements.allSatisfy { $0.target != "a" })

        let stay = RollingCheck.check(Self.spec(["a", "b", "c"], returnGuests: false), inventory: Self.fleet)
        #expect(stay.allSatisfy { $0.unplaceable.isEmpty })
        #expect(stay[0].placements.count == 2)
        #expect(stay.dropFirst().contains { $0.placements.count > 2 }, "a later batch carries guests it received")
    }

    /// 12 GiB of guests on each of three 16 GiB hosts: no host's guests fit on the other two
    /// (8 GiB free): the check names the batch and its unplaceable guests.
    @Test func aBatchThatDoesNotFitIsRefused() {
        let full = Inventory(
            hosts: ["a", "b", "c"].map { Self.host($0, memoryGiB: 16, guests: [("\($0)1", 6), ("\($0)2", 6)]) })
        let r = RollingCheck.check(Self.spec(["a", "b", "c"]), inventory: full)
        #expect(r.allSatisfy { !$0.unplaceable.isEmpty })
        let twoAtOnce = RollingCheck.check(Self.spec(["a", "b", "c"], atATime: 2), inventory: Self.fleet)
        #expect(twoAtOnce.map(\.hosts) == [["a", "b"], ["c"]])
        #expect(!twoAtOnce[0].unplaceable.isEmpty, "20 GiB of a and b do not fit in c's 6 GiB")
    }
}
