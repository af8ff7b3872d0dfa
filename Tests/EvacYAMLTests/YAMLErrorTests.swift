import EvacCore
import EvacYAML
import XCTest

final class YAMLErrorTests: XCTestCase {
    func testTabIndentation() throws {
        let e = try parseError("hosts:\n\tname: kvm1\n")
        XCTAssertEqual(e.mark, m(2, 1))
        XCTAssertEqual(e.message, "tab character used for indentation")
        XCTAssertEqual(e.help, "YAML indentation must use spaces; replace the tab with spaces")
    }

    func testTabAfterMultibyteCharacterIsStillFound() throws {
        let e = try parseError("é: x\n\tb: 1\n")
        XCTAssertEqual(e.mark, m(2, 1))
        XCTAssertEqual(e.message, "tab character used for indentation")
    }

    func testMappingValueNotAllowed() throws {
        let e = try parseError("name: kvm1: big\n")
        XCTAssertEqual(e.mark, m(1, 11))
        XCTAssertEqual(e.message, "unexpected ':' here; a mapping cannot start inside this value")
        XCTAssertTrue(e.help?.contains("quote") ?? false)
    }

    func testErrorAtEndOfFileWithoutNewlineStaysOnTheLastLine() throws {
        let e = try parseError("a: {x: 1")
        XCTAssertEqual(e.mark, m(1, 9))
    }

    func testMisalignedKey() throws {
        let e = try parseError("a:\n  b: 1\n c: 2\n")
        XCTAssertEqual(e.mark, m(3, 2))
        XCTAssertEqual(e.message, "this line does not fit the mapping above it")
    }

    func testKeyWithoutColon() throws {
        let e = try parseError("key: value\nother\n")
        XCTAssertEqual(e.mark, m(2, 1))
        XCTAssertEqual(e.message, "this key has no ':' after it")
    }

    func testUnclosedQuotePointsAtItsStart() throws {
        let e = try parseError("a: 1\nb: 'open\nc: 3\n")
        XCTAssertEqual(e.mark, m(2, 4))
        XCTAssertEqual(e.message, "this quoted string is never closed")
    }

    func testUnclosedFlowSequence() throws {
        let e = try parseError("a: [1, 2\n")
        XCTAssertEqual(e.mark, m(2, 1))
        XCTAssertEqual(e.message, "expected ',' or ']' in the inline collection opened at 1:4")
    }

    func testReservedIndicator() throws {
        let e = try parseError("a: @foo\n")
        XCTAssertEqual(e.mark, m(1, 4))
        XCTAssertEqual(e.message, "'@' cannot start a value")
    }

    func testTrailingContent() throws {
        let e = try parseError("[a, b]]\n")
        XCTAssertEqual(e.mark, m(1, 7))
        XCTAssertEqual(e.message, "unexpected content after the end of the document")
    }

    func testInvalidUTF8IsAnErrorAtTheByte() throws {
        let e = try parseError(bytes: Array("a: ok\nb: ".utf8) + [0xFF, 0x0A])
        XCTAssertEqual(e.mark, m(2, 4))
        XCTAssertTrue(e.message.hasPrefix("the file is not valid UTF-8"), e.message)
    }

    func testControlCharacter() throws {
        let e = try parseError("a: \"x\u{7}\"\n")
        XCTAssertEqual(e.mark, m(1, 6))
        XCTAssertEqual(e.message, "control character U+0007 is not allowed in YAML")
    }

    func testUnknownAnchor() throws {
        let e = try parseError("a: 1\nb: *missing\n")
        XCTAssertEqual(e.mark, m(2, 4))
        XCTAssertEqual(e.span, 8)
        XCTAssertEqual(e.message, "unknown anchor '*missing'")
        XCTAssertEqual(e.help, "define it with '&missing' before this alias")
    }

    func testRecursiveAlias() throws {
        let e = try parseError("a: &x\n  b: *x\n")
        XCTAssertEqual(e.mark, m(2, 6))
        XCTAssertEqual(e.message, "alias '*x' refers to a node that contains it")
    }

    func testSecondDocument() throws {
        let e = try parseError("a: 1\n---\nb: 2\n")
        XCTAssertEqual(e.mark, m(2, 1))
        XCTAssertEqual(e.message, "a second YAML document starts here")
    }

    func testConvertsToDiagnostic() throws {
        let text = "hosts:\n\tname: kvm1\n"
        let d = try parseError(text).diagnostic(file: SourceFile(path: "plan.yaml", text: text))
        XCTAssertEqual(d.severity, .error)
        XCTAssertEqual(d.file, "plan.yaml")
        XCTAssertEqual(d.mark, m(2, 1))
        XCTAssertEqual(
            DiagnosticRenderer.render(d, source: SourceFile(path: "plan.yaml", text: text)),
            """
            plan.yaml:2:1: error: tab character used for indentation
                \tname: kvm1
                ^
                help: YAML indentation must use spaces; replace the tab with spaces

            """)
    }
}
