internal import CYAML
import EvacCore

/// Turns libyaml's terse problem/context strings into messages and help for people.
enum ErrorWording {
    static func error(from p: yaml_parser_t, input: UnsafeBufferPointer<UInt8>) -> YAMLError {
        let problem = p.problem.map { String(cString: $0) } ?? "unknown error"
        let context = p.context.map { String(cString: $0) }
        switch p.error {
        case YAML_MEMORY_ERROR:
            return YAMLError(at: Mark(line: 1, column: 1), "out of memory while reading YAML")
        case YAML_READER_ERROR:
            // Reader errors carry a byte offset, not a mark.
            let at = mark(ofByte: p.problem_offset, in: input)
            if problem == "control characters are not allowed", let c = Unicode.Scalar(UInt32(max(0, p.problem_value)))
            {
                let hex = String(c.value, radix: 16, uppercase: true)
                return YAMLError(
                    at: at,
                    "control character U+\(String(repeating: "0", count: max(0, 4 - hex.count)) + hex) is not allowed in YAML",
                    help: "delete it; to write it inside a value, use a double-quoted escape like \"\\x07\"")
            }
            return YAMLError(
                at: at, "the file is not valid UTF-8 (\(problem))",
                help: "save the file as UTF-8")
        default:
            let at = LibYAMLParser.mark(p.problem_mark)
            let contextAt = LibYAMLParser.mark(p.context_mark)
            var error = reword(
                problem: problem, context: context, at: at, contextAt: contextAt,
                char: character(at: p.problem_mark.index, in: input))
            error.mark = clamp(error.mark, to: input)
            return error
        }
    }

    static func reword(problem: String, context: String?, at: Mark, contextAt: Mark, char: Unicode.Scalar?) -> YAMLError
    {
        if char == "\t" || problem.contains("tab character") {
            return YAMLError(
                at: at, "tab character used for indentation",
                help: "YAML indentation must use spaces; replace the tab with spaces")
        }
        let raw = context.map { "\(problem) \($0)" } ?? problem
        switch problem {
        case "mapping values are not allowed in this context":
            return YAMLError(
                at: at, "unexpected ':' here; a mapping cannot start inside this value",
                help:
                    "if this line is a new key, align it with the keys above; if ':' belongs to the text, quote the whole value (\"...\")"
            )
        case "could not find expected ':'":
            return YAMLError(
                at: contextAt, "this key has no ':' after it",
                help: "write 'key: value' with a space after ':', or quote a value that spans lines")
        case "did not find expected key":
            return YAMLError(
                at: at, "this line does not fit the mapping above it",
                help: "check the indentation: keys of one mapping must start in the same column")
        case "did not find expected '-' indicator":
            return YAMLError(
                at: at, "this line does not fit the list above it",
                help: "check the indentation: items of one list start with '- ' in the same column")
        case "block sequence entries are not allowed in this context":
            return YAMLError(
                at: at, "a list item ('- ') cannot start on the same line as a key",
                help: "put the list on the next lines, indented under the key")
        case "found unexpected end of stream" where context?.contains("quoted scalar") == true:
            return YAMLError(
                at: contextAt, "this quoted string is never closed",
                help: "add the closing quote")
        case "found unknown escape character":
            return YAMLError(
                at: at, "unknown escape sequence in a double-quoted string",
                help: "write '\\\\' for a backslash, or use single quotes where '\\' has no meaning")
        case "found character that cannot start any token":
            let shown = char.map { "'\($0)'" } ?? "this character"
            return YAMLError(
                at: at, "\(shown) cannot start a value",
                help: "quote the value (\"...\") if it begins with a character YAML reserves such as '@' or '`'")
        case "found undefined tag handle":
            return YAMLError(at: at, "unknown tag handle", help: "remove the '!' tag or quote the value")
        case "did not find expected ',' or ']'", "did not find expected ',' or '}'":
            let close = problem.hasSuffix("']'") ? "]" : "}"
            return YAMLError(
                at: at, "expected ',' or '\(close)' in the inline collection opened at \(contextAt)",
                help: "separate items with ',' and close the collection with '\(close)'")
        case "did not find expected <document start>":
            return YAMLError(
                at: at, "unexpected content after the end of the document",
                help: "remove it, or look for an extra closing bracket or a line missing its indentation")
        case "did not find expected node content":
            return YAMLError(
                at: at, "expected a value here",
                help: "write a value, or quote text that starts with a YAML indicator such as ',' ']' or '}'")
        default:
            return YAMLError(
                at: at, "invalid YAML: \(raw)",
                help: "check the indentation and quoting around this position")
        }
    }

    /// The mark of byte `offset`: lines split at "\n", columns count UTF-8 lead bytes.
    static func mark(ofByte offset: Int, in input: UnsafeBufferPointer<UInt8>) -> Mark {
        var line = 1
        var column = 1
        for b in input.prefix(min(offset, input.count)) {
            if b == 0x0A {
                line += 1
                column = 1
            } else if b & 0xC0 != 0x80 {
                column += 1
            }
        }
        return Mark(line: line, column: column)
    }

    /// libyaml ends the stream on a forced new line, so errors at the end of a file without a
    /// final newline point one line past it; move them to the end of the last line instead.
    static func clamp(_ mark: Mark, to input: UnsafeBufferPointer<UInt8>) -> Mark {
        let end = self.mark(ofByte: input.count, in: input)
        return mark > end ? end : mark
    }

    /// The character at libyaml's mark index, which counts characters (not bytes) from the start.
    static func character(at index: Int, in input: UnsafeBufferPointer<UInt8>) -> Unicode.Scalar? {
        guard index >= 0 else { return nil }
        var it = input.makeIterator()
        var decoder = UTF8()
        var n = 0
        while case .scalarValue(let s) = decoder.decode(&it) {
            if n == index { return s }
            n += 1
        }
        return nil
    }
}
