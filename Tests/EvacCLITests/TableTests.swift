import Testing

@testable import EvacCLI

/// The report's tables: columns padded to the widest cell (counted in characters, not bytes),
/// right-aligned where asked, no trailing whitespace, control characters escaped.
struct TableTests {
    @Test func columnsLineUpAndLinesEndClean() {
        var t = Table()
        t.rightAligned = [1]
        t.add(["guest", "memory", "note"])
        t.add(["é-vm", "2.0 GiB", ""])
        t.add(["a\u{1B}b", "16.0 GiB", "x "])
        t.add(["vm", "1", "\u{3000}"]) // an ideographic space: trimmed as whitespace, as before
        #expect(
            t.render() == """
                  guest    memory  note
                  é-vm    2.0 GiB
                  a\\eb   16.0 GiB  x
                  vm            1

                """)
        #expect(Table.trimmingTrailingSpace("ab \t ") == "ab")
        #expect(Table.trimmingTrailingSpace("   ") == "")
        #expect(Table.trimmingTrailingSpace("ab") == "ab")
        var bytes = Array("x\ny \u{3000} \t".utf8)
        Table.trimTrailingSpace(&bytes, lineStart: 2)
        #expect(String(decoding: bytes, as: UTF8.self) == "x\ny")
    }
}
