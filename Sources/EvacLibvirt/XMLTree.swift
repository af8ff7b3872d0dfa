import Foundation

#if canImport(FoundationXML)
import FoundationXML
#endif

/// A minimal read-only element tree for libvirt's XML: child lookup by name and attributes.
/// Built with `XMLParser` rather than `XMLDocument`, because on Linux `XMLDocument` parses in
/// libxml2's recover mode: it accepts broken documents and prints to stderr. `XMLParser`
/// reports any malformation as an error, which is what a planner must see.
struct XMLTree: Sendable, Equatable {
    var name: String
    var attributes: [String: String]
    var elements: [XMLTree]
    private var rawText: String

    init(name: String, attributes: [String: String] = [:], elements: [XMLTree] = [], text: String = "") {
        self.name = name
        self.attributes = attributes
        self.elements = elements
        self.rawText = text
    }

    struct ParseError: Error, CustomStringConvertible {
        var description: String
    }

    /// Foundation's XMLParser sets up libxml2 (`xmlInitParser`, its input callback table)
    /// lazily, and that set-up is not thread-safe: not against other first parses (hosts read
    /// concurrently, tests in parallel), and not against libvirt parsing XML on another thread
    /// (CI crashed calling a half-registered input callback while the test driver read its
    /// host file). A static let runs exactly once and every other caller waits for it;
    /// `LibvirtRuntime` touches it before `virInitialize`, so it precedes any libvirt parse.
    private static let parserReady: Bool = {
        let parser = XMLParser(data: Data("<warm-up/>".utf8))
        return parser.parse()
    }()

    /// Does the one-time parser set-up now; see `parserReady`.
    static func prepareParser() { _ = parserReady }

    /// Parses a document and returns its root element.
    static func parse(_ text: String) throws -> XMLTree {
        prepareParser()
        let builder = Builder()
        let parser = XMLParser(data: Data(text.utf8))
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else {
            let line = parser.lineNumber
            let column = parser.columnNumber
            let reason = parser.parserError.map { "\($0.localizedDescription)" } ?? "no root element"
            throw ParseError(description: "malformed XML at \(line):\(column): \(reason)")
        }
        return root
    }

    /// Direct children with this element name.
    func children(_ name: String) -> [XMLTree] { elements.filter { $0.name == name } }

    /// The first element along a slash-separated path of child names ("devices/disk").
    func first(_ path: String) -> XMLTree? {
        var node: XMLTree? = self
        for step in path.split(separator: "/") { node = node?.elements.first { $0.name == step } }
        return node
    }

    /// All elements matching a slash-separated path of child names.
    func all(_ path: String) -> [XMLTree] {
        var nodes = [self]
        for step in path.split(separator: "/") { nodes = nodes.flatMap { $0.children(String(step)) } }
        return nodes
    }

    func attr(_ name: String) -> String? { attributes[name] }

    /// The element's own text, trimmed; nil when empty.
    var text: String? {
        let t = rawText.trimmingCharacters(in: .whitespacesAndNewlines)
        return t.isEmpty ? nil : t
    }

    /// Text of the first element along `path`.
    func text(_ path: String) -> String? { first(path)?.text }

    /// Collects elements on a stack; each closed element is appended to its parent.
    private final class Builder: NSObject, XMLParserDelegate {
        var stack: [XMLTree] = []
        var root: XMLTree?

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
            qualifiedName qName: String?, attributes: [String: String] = [:]
        ) {
            stack.append(XMLTree(name: elementName, attributes: attributes))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if !stack.isEmpty { stack[stack.count - 1].rawText += string }
        }

        func parser(_ parser: XMLParser, foundCDATA block: Data) {
            if !stack.isEmpty { stack[stack.count - 1].rawText += String(decoding: block, as: UTF8.self) }
        }

        func parser(
            _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?
        ) {
            guard let done = stack.popLast() else { return }
            if stack.isEmpty { root = done } else { stack[stack.count - 1].elements.append(done) }
        }
    }
}
