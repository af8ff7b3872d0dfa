import EvacCore
import EvacSchema
import XCTest

final class JSONValueTests: XCTestCase {
    func testParsesBooleansAsBooleansNotNumbers() throws {
        XCTAssertEqual(
            try JSONValue(json: "[true, 1, false, 0]"), .array([.bool(true), .number(1), .bool(false), .number(0)]))
        XCTAssertNotEqual(JSONValue.bool(true), .number(1))
    }

    func testKeepsMemberOrderAndComparesObjectsUnordered() throws {
        let a = try JSONValue(json: #"{"b": 1, "a": {"x": null}}"#)
        guard case .object(let members) = a else { return XCTFail("not an object") }
        XCTAssertEqual(members.map(\.key), ["b", "a"])
        let b = try JSONValue(json: #"{"a": {"x": null}, "b": 1.0}"#)
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.hashValue, b.hashValue)
        XCTAssertNotEqual(a, try JSONValue(json: #"{"a": {"x": null}, "b": 2}"#))
    }

    func testStringsAndNumbers() throws {
        XCTAssertEqual(try JSONValue(json: #""a\n\u00e9\ud83d\ude00\/""#), .string("a\né😀/"))
        XCTAssertEqual(try JSONValue(json: "-1.5e2"), .number(-150))
        XCTAssertEqual(try JSONValue(json: " 0 "), .number(0))
    }

    func testRejectsMalformedJSON() {
        for bad in [
            "", "[1,]", "{\"a\" 1}", "01", "1.", "tru", "\"\\x\"", "\"\\ud800\"", "[1] x", "\"a\nb\"", "{1: 2}",
        ] {
            XCTAssertThrowsError(try JSONValue(json: bad), bad)
        }
        let deep = String(repeating: "[", count: 100_000)
        XCTAssertThrowsError(try JSONValue(json: deep)) { error in
            XCTAssertEqual((error as? JSONParseError)?.message, "nesting deeper than 512")
        }
    }

    func testErrorOffset() {
        XCTAssertThrowsError(try JSONValue(json: "[1, 2 3]")) { error in
            XCTAssertEqual((error as? JSONParseError)?.offset, 6)
        }
    }

    func testCoreSchemaTyping() {
        let cases: [(String, JSONValue)] = [
            ("", .null), ("~", .null), ("null", .null), ("NULL", .null), ("Nil", .string("Nil")),
            ("true", .bool(true)), ("False", .bool(false)), ("yes", .string("yes")), ("on", .string("on")),
            ("42", .number(42)), ("-7", .number(-7)), ("+3", .number(3)), ("0x1F", .number(31)), ("0o17", .number(15)),
            ("1.5", .number(1.5)), ("1e3", .number(1000)), (".5", .number(0.5)), ("-.inf", .number(-.infinity)),
            ("0x", .string("0x")), ("1_000", .string("1_000")), ("8GiB", .string("8GiB")), ("inf", .string("inf")),
            ("1.2.3", .string("1.2.3")), ("0b101", .string("0b101")),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(JSONValue.coreSchema(text), expected, text)
        }
        guard case .number(let nan) = JSONValue.coreSchema(".nan") else { return XCTFail(".nan is not a number") }
        XCTAssertTrue(nan.isNaN)
    }

    func testNodeConversionRespectsQuoting() {
        let mark = Mark(line: 1, column: 1)
        let node = Node.mapping(
            [
                .init(key: .scalar(.init(value: "count", mark: mark)), value: .scalar(.init(value: "3", mark: mark))),
                .init(
                    key: .scalar(.init(value: "label", mark: mark)),
                    value: .scalar(.init(value: "3", quoted: true, mark: mark))),
                .init(
                    key: .scalar(.init(value: "1", mark: mark)),
                    value: .sequence([.scalar(.init(value: "~", mark: mark))], mark)),
            ], mark)
        XCTAssertEqual(
            JSONValue(node: node),
            .object([
                .init("count", .number(3)), .init("label", .string("3")), .init("1", .array([.null])),
            ]))
    }

    func testNodeAtPointer() {
        let a = Mark(line: 1, column: 1)
        let b = Mark(line: 2, column: 3)
        let c = Mark(line: 3, column: 5)
        let node = Node.mapping(
            [
                .init(
                    key: .scalar(.init(value: "a/b", mark: a)),
                    value: .sequence(
                        [
                            .scalar(.init(value: "x", mark: b)), .scalar(.init(value: "y", mark: c)),
                        ], b))
            ], a)
        XCTAssertEqual(node.node(at: "")?.mark, a)
        XCTAssertEqual(node.node(at: "/a~1b/1")?.mark, c)
        XCTAssertNil(node.node(at: "/a~1b/2"))
        XCTAssertNil(node.node(at: "/missing"))
    }
}
