import EvacCore
import EvacYAML
import XCTest

func parse(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> Node {
    switch YAMLReader.parse(SourceFile(path: "t.yaml", text: text)) {
    case .success(let node): return node
    case .failure(let error):
        XCTFail("unexpected error \(error)", file: file, line: line)
        throw error
    }
}

func parseError(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> YAMLError {
    try parseError(bytes: Array(text.utf8), file: file, line: line)
}

func parseError(bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> YAMLError {
    switch YAMLReader.parse(bytes: bytes) {
    case .success(let node):
        XCTFail("expected an error, got \(node)", file: file, line: line)
        throw ExpectedErrorMissing()
    case .failure(let error): return error
    }
}

func m(_ line: Int, _ column: Int) -> Mark { Mark(line: line, column: column) }

extension Node {
    /// The value under `key` in a mapping (first match), for terse tests.
    subscript(key: String) -> Node? { pairs?.first { $0.key.scalar?.value == key }?.value }
}

/// Thrown after XCTFail so the test stops; never a skip.
struct ExpectedErrorMissing: Error {}
