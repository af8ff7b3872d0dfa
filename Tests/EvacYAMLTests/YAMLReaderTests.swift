import EvacCore
import EvacYAML
import XCTest

final class YAMLReaderTests: XCTestCase {
    func testMarksOfNestedScalarsAreOneBased() throws {
        let root = try parse(
            """
            hosts:
              - name: kvm1
                tags: [a, "b"]
            """)
        XCTAssertEqual(root.mark, m(1, 1))
        let hosts = try XCTUnwrap(root["hosts"])
        XCTAssertEqual(hosts.mark, m(2, 3))
        let host = try XCTUnwrap(hosts.items?.first)
        XCTAssertEqual(host.mark, m(2, 5))
        let name = try XCTUnwrap(host["name"]?.scalar)
        XCTAssertEqual(name.value, "kvm1")
        XCTAssertEqual(name.mark, m(2, 11))
        XCTAssertEqual(name.end, m(2, 15))
        let tags = try XCTUnwrap(host["tags"])
        XCTAssertEqual(tags.mark, m(3, 11))
        XCTAssertEqual(tags.items?.map(\.mark), [m(3, 12), m(3, 15)])
        // The end of a quoted scalar is past its closing quote.
        XCTAssertEqual(tags.items?[1].scalar?.end, m(3, 18))
    }

    func testColumnsCountCharactersNotBytes() throws {
        let root = try parse("héllo: wörld\n")
        let pair = try XCTUnwrap(root.pairs?.first)
        XCTAssertEqual(pair.value.mark, m(1, 8))
        XCTAssertEqual(pair.value.scalar?.end, m(1, 13))
    }

    func testQuotedVersusPlain() throws {
        let root = try parse(
            """
            plain: 1
            single: '1'
            double: "true"
            literal: |
              text
            folded: >
              text
            tagged: !!str 42
            bang: ! 7
            other: !!int 5
            """)
        let quoted = try XCTUnwrap(root.pairs).map { ($0.key.scalar!.value, $0.value.scalar!.quoted) }
        XCTAssertEqual(quoted.map(\.0), ["plain", "single", "double", "literal", "folded", "tagged", "bang", "other"])
        XCTAssertEqual(quoted.map(\.1), [false, true, true, true, true, true, true, false])
        XCTAssertEqual(root["literal"]?.scalar?.value, "text\n")
        XCTAssertEqual(root["single"]?.kindName, "a string")
        XCTAssertEqual(root["plain"]?.kindName, "an integer")
    }

    func testBlockAndFlowStylesGiveTheSameTree() throws {
        let block = try parse(
            """
            a:
              - 1
              - x: y
            b: {}
            """)
        let flow = try parse("{a: [1, {x: y}], b: {}}")
        func shape(_ n: Node) -> String {
            switch n {
            case .scalar(let s): return s.value
            case .sequence(let items, _): return "[" + items.map(shape).joined(separator: ",") + "]"
            case .mapping(let pairs, _):
                return "{" + pairs.map { shape($0.key) + ":" + shape($0.value) }.joined(separator: ",") + "}"
            }
        }
        XCTAssertEqual(shape(block), "{a:[1,{x:y}],b:{}}")
        XCTAssertEqual(shape(flow), shape(block))
    }

    func testEmptyInputIsAnEmptyMapping() throws {
        for text in ["", "# only a comment\n", "\n\n"] {
            XCTAssertEqual(try parse(text), .mapping([], m(1, 1)), text)
        }
    }

    func testExplicitEmptyDocumentIsAnEmptyPlainScalar() throws {
        let root = try parse("---\n")
        XCTAssertEqual(root.scalar?.value, "")
        XCTAssertEqual(root.scalar?.quoted, false)
    }

    func testDuplicateKeysAreKeptInOrder() throws {
        let root = try parse("a: 1\nb: 2\na: 3\n")
        XCTAssertEqual(root.pairs?.map { $0.key.scalar!.value }, ["a", "b", "a"])
        XCTAssertEqual(root.pairs?.map { $0.value.scalar!.value }, ["1", "2", "3"])
        XCTAssertEqual(root.pairs?[2].key.mark, m(3, 1))
    }

    func testMergeKeyIsAnOrdinaryKey() throws {
        let root = try parse("base: &b {x: 1}\nc:\n  <<: *b\n  y: 2\n")
        XCTAssertEqual(root["c"]?.pairs?.map { $0.key.scalar!.value }, ["<<", "y"])
    }

    func testAliasResolvesToTheAnchoredNode() throws {
        let root = try parse("defaults: &d\n  cpu: 4\nhost:\n  spec: *d\nname: &n kvm1\ncopy: *n\n")
        XCTAssertEqual(root["host"]?["spec"], root["defaults"])
        XCTAssertEqual(root["copy"]?.scalar?.value, "kvm1")
        // An alias carries the anchored node, so marks point at the definition.
        XCTAssertEqual(root["copy"]?.mark, m(5, 7))
    }

    func testLaterAnchorWithSameNameReplacesEarlier() throws {
        let root = try parse("a: &x 1\nb: &x 2\nc: *x\n")
        XCTAssertEqual(root["c"]?.scalar?.value, "2")
    }

    func testWindowsLineEndings() throws {
        let root = try parse("a: 1\r\nb: 2\r\n")
        XCTAssertEqual(root["b"]?.mark, m(2, 4))
    }
}
