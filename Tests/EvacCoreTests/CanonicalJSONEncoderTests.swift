import EvacBench
import Foundation
import XCTest

@testable import EvacCore

/// CanonicalJSONEncoder must write exactly what Foundation's JSONEncoder writes with the plan
/// file's options: plan hashes and golden files depend on those bytes.
final class CanonicalJSONEncoderTests: XCTestCase {
    private func foundation<T: Encodable>(_ value: T) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try e.encode(value), as: UTF8.self)
    }

    private func assertSame<T: Encodable>(_ value: T, file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = try foundation(value)
        let actual = String(decoding: try CanonicalJSONEncoder().encode(value), as: UTF8.self)
        XCTAssertEqual(actual, expected, file: file, line: line)
    }

    func testStrings() throws {
        let controls = String(decoding: (0..<0x20).map { UInt8($0) } + [0x7F], as: UTF8.self)
        let strings = [
            "", "plain", controls, "quote \" backslash \\ slash / both \\/ \"\"",
            "emoji 😀👩‍👩‍👧 flag 🇩🇪", "combining e\u{301} a\u{30A}\u{323}", "précomposé é", "\u{FEFF}bom \u{2028}\u{2029}",
            "tab\tnew\nline\r\u{8}\u{C}", "</script>", "\u{10FFFF}",
        ]
        try assertSame(strings)
        for s in strings {
            try assertSame(s)
            try assertSame([s: s])
        }
    }

    func testNumbers() throws {
        try assertSame([Int.min, Int.max, 0, -1, 1, 9, 10, 99, 100])
        try assertSame([UInt64.max, 0, 10])
        try assertSame([Int8.min, Int8.max])
        try assertSame([Int16.min])
        try assertSame([Int32.min, Int32.max])
        try assertSame([UInt8.max])
        try assertSame([UInt16.max])
        try assertSame([UInt32.max])
        try assertSame([UInt.max])
        var doubles: [Double] = [
            0.1, 1e300, 5e-324, -0.0, 0.0, 100.0, -100.0, 1.5, 0.5, 1e-5, 1e15, 1e16, -1e15, 999_999_999_999_999,
            9_007_199_254_740_993, 2.5e-7, .pi, 1e21, -1e-300, .greatestFiniteMagnitude, 123456.789, 1 / 3,
        ]
        var rng = SplitMix64(seed: 42)
        for _ in 0..<2000 {
            let bits = rng.next()
            doubles.append(Double(bitPattern: bits))
            doubles.append(Double(Int64(bitPattern: bits) >> Int64(bits % 63))) // whole numbers of every size
            doubles.append(Double(bits % 100_000) / 100)
        }
        doubles = doubles.filter(\.isFinite)
        try assertSame(doubles)
        for d in doubles.prefix(50) {
            try assertSame(d)
            try assertSame(["k": d])
        }
        let floats: [Float] = [0.1, 1.5, 100, -0.0, 1e-5, 3.4e38, 16_777_216, 1e8, .pi]
        try assertSame(floats)
        for f in floats { try assertSame(f) }
        XCTAssertThrowsError(try CanonicalJSONEncoder().encode([Double.nan]))
        XCTAssertThrowsError(try CanonicalJSONEncoder().encode(["k": Double.infinity]))
    }

    struct Optionals: Codable {
        var a: Int?
        var b: String??
        var c: [Int?]
        var d: [String: Int?]?
        var e: [Optionals]?
    }

    func testOptionalsAndEmptyContainers() throws {
        try assertSame(Optionals(a: nil, b: nil, c: [], d: nil, e: nil))
        try assertSame(
            Optionals(
                a: 1, b: .some(nil), c: [nil, 1, nil], d: ["x": nil, "y": 2],
                e: [Optionals(a: nil, b: "s", c: [], d: [:], e: [])]))
        try assertSame([[Int]]())
        try assertSame([[Int]()])
        try assertSame([[[String: Int]()]])
        try assertSame([String: [Int]]())
        try assertSame(["a": [String: Int](), "b": [:]])
        try assertSame(Int?.none)
        try assertSame([Int?.none])
        struct Nothing: Encodable { func encode(to encoder: Encoder) throws {} }
        try assertSame([Nothing()])
        try assertSame(["k": Nothing()])
        XCTAssertThrowsError(try CanonicalJSONEncoder().encode(Nothing()))
    }

    func testKeyOrder() throws {
        let keys = [
            "a", "B", "_x", "a1", "a10", "a2", "aB", "Z", "z", "é", "e\u{302}", "ß", "😀", "\u{FF}", "", " ", "\"", "\\",
            "a\u{0}",
            "\u{1F}", "~", "ä", "Ä", "A", "aa", "a.b", "a-b",
        ]
        try assertSame(Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, $0) }))
        try assertSame([1: "a", 10: "b", 2: "c", -1: "d"])
        // The same CodingKeys type with varying members present: the remembered orders must
        // not leak from one shape to another.
        try assertSame(
            (0..<40).map { i in
                Optionals(
                    a: i % 2 == 0 ? i : nil, b: i % 3 == 0 ? "x" : nil, c: [],
                    d: i % 5 == 0 ? ["k\(i)": i, "a": nil] : nil, e: nil)
            })
    }

    struct Legacy: Encodable {
        var x = 1
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: AnyKey.self)
            try c.encode(x, forKey: AnyKey("zeta"))
            var nested = c.nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey("nested"))
            var list = c.nestedUnkeyedContainer(forKey: AnyKey("list"))
            try c.encode("after", forKey: AnyKey("alpha")) // parent written between nested uses
            try nested.encode(2, forKey: AnyKey("b"))
            try list.encode("one")
            var inner = list.nestedContainer(keyedBy: AnyKey.self)
            try list.encode([1, 2])
            try inner.encode(true, forKey: AnyKey("t"))
            try nested.encode(1, forKey: AnyKey("a"))
            try nested.encode(3, forKey: AnyKey("a")) // duplicate key: the last value wins
            try nested.encode(4, forKey: AnyKey("e\u{301}"))
            try nested.encode(5, forKey: AnyKey("\u{E9}")) // the same String: first key, last value
            var sup = c.superEncoder().container(keyedBy: AnyKey.self)
            try sup.encode("base", forKey: AnyKey("kind"))
            var single = c.superEncoder(forKey: AnyKey("single")).singleValueContainer()
            try single.encode(["q": 1])
            _ = c.superEncoder(forKey: AnyKey("unused"))
            var again = encoder.container(keyedBy: AnyKey.self) // the same object again
            var arr = again.nestedUnkeyedContainer(forKey: AnyKey("arr"))
            var supArr = arr.superEncoder().unkeyedContainer()
            try supArr.encode(1.5)
            try arr.encodeNil()
            var deep = arr.nestedUnkeyedContainer()
            try deep.encode(Optionals(a: 1, b: nil, c: [2], d: nil, e: nil))
        }
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// An array whose elements open nested containers, between elements written in place.
    struct Mixed: Encodable {
        func encode(to encoder: Encoder) throws {
            var c = encoder.unkeyedContainer()
            try c.encode("first")
            var a = c.nestedContainer(keyedBy: AnyKey.self)
            try c.encode(2)
            var b = c.nestedUnkeyedContainer()
            try c.encode(Optionals(a: nil, b: nil, c: [], d: nil, e: nil))
            try a.encode("x", forKey: AnyKey("y"))
            try b.encode(false)
        }
    }

    func testNestedContainersAndSuperEncoders() throws {
        try assertSame(Legacy())
        try assertSame(["outer": [Legacy()]])
        try assertSame(Mixed())
        try assertSame([Mixed(), Mixed()])
    }

    func testEnumsWithPayloads() throws {
        var m = MigrationOptions()
        try assertSame(m)
        for t: MigrationOptions.Timeout in [
            .fixed(milliseconds: 60000), .perGiB(milliseconds: 0), .fixed(milliseconds: .max),
        ] {
            m.timeout = t
            m.autoConverge = .init(initial: 20, increment: 10)
            m.parallelConnections = 4
            m.postCopy = .afterFirstPass
            try assertSame(m)
            try assertSame([t])
        }
        try assertSame(OnFailure.allCases)
        try assertSame(Data([0, 1, 2, 250, 255]))
        try assertSame(URL(string: "https://example.com/a?b=c")!)
        try assertSame(Decimal(string: "-12.5")!)
        try assertSame(Date(timeIntervalSince1970: 1_700_000_000.25))
    }

    /// A graph with every optional member of a node present somewhere, and strings to escape.
    private func oddGraph(nodes count: Int = 12) -> MigrationGraph {
        let odd = "we\"ird\\ \n\t/\u{1F600} e\u{301} \u{7F}"
        let modes: [MigrationOptions.Mode] = [.live, .paused, .offline]
        var nodes: [MigrationGraph.Node] = []
        for i in 0..<count {
            let guest = i == 3 ? odd : "g\(i)"
            let target = i == 5 ? odd : "kvm-\(i)"
            let copies: [String] = i % 4 == 1 ? ["vda", odd] : []
            let offMostFree: String? = i % 3 == 2 ? "most-free \(odd)" : nil
            let memoryKiB = UInt64(i) << 30 + 7
            let placement = Placement(
                guest: guest, uuid: "u-\(i)-4b1c-9a7e-0123456789ab", source: "src\(i % 2)", target: target,
                memoryKiB: memoryKiB, vcpus: i, mode: modes[i % 3], copyStorage: copies, offMostFree: offMostFree)
            let after: [Int] = i % 2 == 0 ? [] : [1, i]
            let groups: [String] = i % 5 == 0 ? ["db", odd] : []
            let group: String? = i % 4 == 3 ? odd : nil
            let start: Double? = i % 3 == 0 ? nil : Double(i) * 1234.5
            var duration: Double? = i % 2 == 0 ? 1e16 + Double(i) : 0.1 * Double(i)
            if i == 7 { duration = nil }
            nodes.append(
                MigrationGraph.Node(
                    id: i + 1, placement: placement, after: after, groups: groups, migrationGroup: group,
                    predictedStartMs: start, predictedDurationMs: duration))
        }
        return MigrationGraph(
            nodes: nodes,
            limits: .init(
                total: 4, perSource: 2, perTarget: 1,
                groups: [.init(name: odd, maxInFlight: 1), .init(name: "b", maxInFlight: 2)]))
    }

    struct WrappedGraph: Encodable {
        var graph: MigrationGraph
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: AnyKey.self)
            try graph.encode(to: c.superEncoder(forKey: AnyKey("super")))
            var list = c.nestedUnkeyedContainer(forKey: AnyKey("list"))
            try list.encode(graph)
            try c.encode(graph, forKey: AnyKey("plain"))
        }
    }

    /// Through CanonicalJSONEncoder the graph writes its own bytes (MigrationGraph+CanonicalJSON):
    /// they must be JSONEncoder's, whatever members a node has and at whatever depth the graph sits;
    /// through a super encoder or a nested container it takes the container path.
    func testGraphWritesItsOwnBytes() throws {
        let graph = oddGraph()
        try assertSame(graph)
        try assertSame([graph, MigrationGraph(nodes: [], limits: .init(total: 1, perSource: 1, perTarget: 1))])
        try assertSame(["outer": ["inner": graph]])
        try assertSame(WrappedGraph(graph: graph))
        try assertSame(oddGraph(nodes: 1))
        let keys = MigrationGraph.Node.canonicalKeys
        XCTAssertEqual(keys, keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        // Every key the direct writer knows appears in JSONEncoder's encoding of the odd graph.
        let text = try foundation(graph)
        for k in keys { XCTAssertTrue(text.contains("\"\(k)\" : "), k) }
        var bad = graph
        bad.nodes[4].predictedStartMs = .nan
        XCTAssertThrowsError(try CanonicalJSONEncoder().encode(bad))
    }

    private func realisticPlan() -> (PlanFile, Inventory) {
        var (spec, inventory) = FleetGenerator.scale(guests: 2000, hosts: 200, sources: 40, seed: 7)
        spec.migration.timeout = .perGiB(milliseconds: 30000)
        spec.migration.bandwidthBytesPerSec = 1 << 30
        spec.constraints.bridgeMap = ["br0": "br-new", "virbr/0": "x\"y"]
        let result = Placer.place(spec: spec, inventory: inventory)
        let graph = MigrationGraph.build(spec: spec, placements: result.placements, file: "scale.yaml").graph!
        let timeline = Timeline.estimate(graph, bandwidth: spec.migration.bandwidthBytesPerSec)
        let file = PlanFile(
            spec: spec, planSource: .init(path: "scale.yaml", sha256: String(repeating: "ab", count: 32)),
            inventory: inventory, result: result, graph: graph, timeline: timeline)
        return (file, inventory)
    }

    func testPlanFileAndInventory() throws {
        let (file, inventory) = realisticPlan()
        XCTAssertGreaterThan(file.graph.nodes.count, 1000)
        try assertSame(file)
        try assertSame(inventory)
        try assertSame(file.graph)
        // What PlanFile writes: the same bytes as through JSONEncoder, and a hash over them.
        let expected = Data((try foundation(file) + "\n").utf8)
        XCTAssertEqual(file.encoded(), expected)
        XCTAssertEqual(inventory.encodedSnapshot(), Data((try foundation(inventory) + "\n").utf8))
        var unhashed = file
        unhashed.planHash = ""
        XCTAssertEqual(file.planHash, SHA256.hex(Data(try foundation(file.identity).utf8)))
        let sealed = unhashed.sealed()
        XCTAssertEqual(sealed.file.planHash, file.planHash)
        XCTAssertEqual(sealed.data, expected, "the spliced single encoding is the whole file's encoding")
        // Informational values with characters that need escaping still splice to the same bytes.
        var odd = unhashed
        odd.planSource = .init(path: "we\"ird/\u{1F600}\n.yaml", sha256: "x")
        odd.estimatedDurationMs = 1234.5678
        odd.evacVersion = "9.9.9-dev"
        let oddSealed = odd.sealed()
        XCTAssertEqual(oddSealed.data, Data((try foundation(oddSealed.file) + "\n").utf8))
        XCTAssertEqual(oddSealed.file.planHash, file.planHash, "none of them is in the hash")
        // The member list both encodings walk names every stored property that is set.
        var visited: [String] = []
        file.visitMembers { key, _ in visited.append(key.stringValue) }
        let present = Mirror(reflecting: file).children.compactMap { child -> String? in
            let m = Mirror(reflecting: child.value)
            return m.displayStyle == .optional && m.children.isEmpty ? nil : child.label
        }
        XCTAssertEqual(visited, present.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        XCTAssertEqual(present.count, 17, "the realistic plan sets no connection, window, hooks or rolling")
        var full = file
        full.connection = ConnectionSettings(callTimeoutMs: 5000)
        full.window = MaintenanceWindow(durationMs: 3_600_000)
        full.hooks = HookSet()
        full.rolling = RollingSpec()
        var all: [String] = []
        full.visitMembers { key, _ in all.append(key.stringValue) }
        XCTAssertEqual(Set(all), Set(Mirror(reflecting: full).children.compactMap(\.label)))
        XCTAssertEqual(all.count, 21)
        XCTAssertEqual(full.encoded(), Data((try foundation(full) + "\n").utf8))
    }
}
