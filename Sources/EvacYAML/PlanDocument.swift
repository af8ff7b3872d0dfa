import EvacCore

/// A plan read from the bytes of its file: UTF-8 check, YAML, plan language. What `evac
/// validate`, `plan` and `apply` run on a YAML plan, and what the plan fuzz target feeds.
public enum PlanDocument {
    /// The largest plan read: a 100,000-host plan written out in full is 5–12 MiB.
    public static let maxBytes = 32 << 20

    public struct Read: Sendable {
        /// The text for snippets in diagnostics (invalid bytes shown as U+FFFD).
        public var source: SourceFile
        /// The plan, when there were no errors.
        public var spec: PlanSpec?
        /// Errors and warnings, sorted.
        public var diagnostics: [Diagnostic]
    }

    public static func read(bytes: [UInt8], path: String) -> Read {
        let source = SourceFile(path: path, text: String(decoding: bytes, as: UTF8.self))
        func fail(_ d: Diagnostic) -> Read { Read(source: source, spec: nil, diagnostics: [d]) }
        if bytes.count > maxBytes {
            return fail(
                Diagnostic(
                    .error, file: path, at: Mark(line: 1, column: 1),
                    "the plan is \(bytes.count) bytes; evac reads plans of at most \(maxBytes >> 20) MiB",
                    help: "no fleet needs a plan this large; split it"))
        }
        if let bad = UTF8Check.firstInvalid(bytes) {
            let hex = String(bytes[bad], radix: 16, uppercase: true)
            return fail(
                Diagnostic(
                    .error, file: path, at: UTF8Check.mark(ofByte: bad, in: bytes),
                    "the file is not valid UTF-8: byte 0x\(hex.count == 1 ? "0" + hex : hex) at offset \(bad) does not start or continue a character",
                    help: "save the file as UTF-8"))
        }
        let root: Node
        switch YAMLReader.parse(bytes: bytes) {
        case .success(let node): root = node
        case .failure(let e): return fail(e.diagnostic(file: path))
        }
        let (spec, diagnostics) = PlanReader.read(root, file: path)
        return Read(source: source, spec: spec, diagnostics: diagnostics)
    }
}

/// Where UTF-8 goes wrong, to point at it (libyaml reports a byte offset only for some cases).
enum UTF8Check {
    /// The offset of the first byte that is not part of a well-formed UTF-8 sequence.
    static func firstInvalid(_ b: [UInt8]) -> Int? {
        var i = 0
        while i < b.count {
            let c = b[i]
            if c < 0x80 {
                i += 1
                continue
            }
            let n: Int
            let lo: UInt8
            let hi: UInt8
            switch c {
            case 0xC2...0xDF:
                n = 1
                lo = 0x80
                hi = 0xBF
            case 0xE0:
                n = 2
                lo = 0xA0
                hi = 0xBF
            case 0xE1...0xEC, 0xEE...0xEF:
                n = 2
                lo = 0x80
                hi = 0xBF
            case 0xED:
                n = 2
                lo = 0x80
                hi = 0x9F // no surrogates
            case 0xF0:
                n = 3
                lo = 0x90
                hi = 0xBF
            case 0xF1...0xF3:
                n = 3
                lo = 0x80
                hi = 0xBF
            case 0xF4:
                n = 3
                lo = 0x80
                hi = 0x8F
            default: return i
            }
            for k in 1...n {
                guard i + k < b.count else { return i }
                let x = b[i + k]
                if k == 1 ? !(lo...hi).contains(x) : !(0x80...0xBF).contains(x) { return i }
            }
            i += n + 1
        }
        return nil
    }

    /// Line and column (counting characters) of byte `offset`.
    static func mark(ofByte offset: Int, in b: [UInt8]) -> Mark {
        var line = 1
        var column = 1
        for x in b.prefix(offset) {
            if x == 0x0A {
                line += 1
                column = 1
            } else if x & 0xC0 != 0x80 {
                column += 1
            }
        }
        return Mark(line: line, column: column)
    }
}
