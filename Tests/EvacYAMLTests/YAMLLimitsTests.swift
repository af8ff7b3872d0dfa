import EvacCore
import EvacYAML
import XCTest

final class YAMLLimitsTests: XCTestCase {
    func testAliasBombIsRejected() throws {
        var text = "l0: &l0 [" + Array(repeating: "lol", count: 10).joined(separator: ", ") + "]\n"
        for i in 1...9 {
            text += "l\(i): &l\(i) [" + Array(repeating: "*l\(i - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        let e = try parseError(text)
        XCTAssertEqual(e.message, "aliases expand to more than 100000 nodes beyond those written out")
        // l4 alone expands to ~111k nodes: the budget runs out on its line (5), not at the end.
        XCTAssertEqual(e.mark.line, 5)
    }

    func testModerateAliasUseIsAccepted() throws {
        var text = "l0: &l0 [a, b, c]\n"
        for i in 1...5 { text += "l\(i): &l\(i) [*l\(i - 1), *l\(i - 1), *l\(i - 1)]\n" }
        let root = try parse(text)
        XCTAssertEqual(root["l5"]?.items?.count, 3)
    }

    func testDeepFlowNestingIsAnErrorNotACrash() throws {
        let e = try parseError(String(repeating: "[", count: 100_000))
        XCTAssertEqual(e.mark, m(1, 513))
        XCTAssertEqual(e.message, "nesting is deeper than 512 levels")
    }

    func testDeepBlockNestingIsAnError() throws {
        var text = ""
        for i in 0..<600 { text += String(repeating: " ", count: i) + "k:\n" }
        let e = try parseError(text)
        XCTAssertEqual(e.message, "nesting is deeper than 512 levels")
        // Line n opens the mapping at depth n, in column n.
        XCTAssertEqual(e.mark, m(513, 513))
    }

    func testNestingAtTheLimitIsAccepted() throws {
        let root = try parse(String(repeating: "[", count: 512) + String(repeating: "]", count: 512))
        var depth = 0
        var node: Node? = root
        while let items = node?.items {
            depth += 1
            node = items.first
        }
        XCTAssertEqual(depth, 512)
    }

    /// A few hundred random and mutated inputs: none may crash, and every error must point
    /// inside the input.
    func testRandomAndMutatedInputsNeverCrash() throws {
        let seed = Array(
            """
            # plan
            name: drain-rack-4
            hosts: [kvm1, "kvm2", 'kvm3']
            defaults: &d {cpu: 4, mem: 8GiB}
            batches:
              - hosts: ["kvm*"]
                spec: *d
                note: |
                  literal text
              - {max: 2, mode: live}
            """.utf8)
        let alphabet = Array("-:[]{},&*!|>'\"#%@`? \n\t\\ax0".utf8) + [0x00, 0xC3, 0xA9, 0xFF, 0xE2, 0x80]
        var rng = SplitMix64(seed: 42)
        var failures = 0
        var successes = 0
        for round in 0..<400 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int(rng.next() % 80)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            } else {
                bytes = seed
                for _ in 0..<(1 + Int(rng.next() % 6)) where !bytes.isEmpty {
                    let i = Int(rng.next() % UInt64(bytes.count))
                    let b = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                    switch rng.next() % 3 {
                    case 0: bytes[i] = b
                    case 1: bytes.insert(b, at: i)
                    default: bytes.remove(at: i)
                    }
                }
            }
            let lines = bytes.filter { $0 == 0x0A }.count + 1
            switch YAMLReader.parse(bytes: bytes) {
            case .success: successes += 1
            case .failure(let e):
                failures += 1
                XCTAssertFalse(e.message.isEmpty)
                XCTAssertTrue(
                    (1...lines).contains(e.mark.line) && e.mark.column >= 1,
                    "mark \(e.mark) outside input \(bytes)")
            }
        }
        // Both outcomes must occur, or the generator is not exercising the reader.
        XCTAssertGreaterThan(successes, 20)
        XCTAssertGreaterThan(failures, 20)
    }
}

/// A tiny deterministic generator so the fuzz test is reproducible.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
